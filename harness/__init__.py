"""What drives the bot as its users and its operator do, for the tests and the benches: an
end-to-end-encrypted Matrix client, the bot run as `coordbot run`, a proxy that loses answers."""

from harness.client import MatrixRequestFailed, TestClient, WaitTimeout

__all__ = ["MatrixRequestFailed", "TestClient", "WaitTimeout"]
