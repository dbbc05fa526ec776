"""Helpers shared by the integration tests: an end-to-end-encrypted Matrix client."""

from tests.support.client import MatrixRequestFailed, TestClient, WaitTimeout

__all__ = ["MatrixRequestFailed", "TestClient", "WaitTimeout"]
