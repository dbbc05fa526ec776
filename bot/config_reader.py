"""Reading a configuration file's raw mapping, section by section, recording each problem
under its dotted key (`bot.language: must be one of …`) instead of stopping at the first."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bot.core.durations import DurationError, parse_duration


@dataclass(frozen=True)
class Section:
    name: str
    data: dict[str, Any]


class Reader:
    """Walks the raw mapping, recording each problem under its dotted key."""

    def __init__(self, raw: dict[str, Any]):
        self.raw = raw
        self.problems: list[str] = []

    def section(self, name: str, required: bool = False) -> Section:
        value = self.raw.get(name)
        if value is None:
            if required:
                self.problems.append(f"{name}: missing section")
            return Section(name, {})
        if not isinstance(value, dict):
            self.problems.append(f"{name}: must be a mapping")
            return Section(name, {})
        return Section(name, value)

    def get(self, sec: Section, key: str, kind: type | tuple, default: Any = None,
            required: bool = False) -> Any:
        name = f"{sec.name}.{key}"
        if sec.data.get(key) is None:
            if required:
                self.problems.append(f"{name}: missing")
            return default
        value = sec.data[key]
        if kind is int and isinstance(value, bool):
            self.problems.append(f"{name}: must be a whole number")
            return default
        if not isinstance(value, kind):
            expected = {str: "a string", int: "a whole number", list: "a list",
                        bool: "true or false"}.get(kind if isinstance(kind, type) else list, "?")
            self.problems.append(f"{name}: must be {expected}")
            return default
        return value

    def str_list(self, sec: Section, key: str, default: tuple[str, ...]) -> tuple[str, ...]:
        value = self.get(sec, key, list, None)
        if value is None:
            return default
        if not all(isinstance(v, str) for v in value):
            self.problems.append(f"{sec.name}.{key}: every entry must be a string")
            return default
        return tuple(value)

    def duration(self, sec: Section, key: str, default: int) -> int:
        value = self.get(sec, key, str, None)
        if value is None:
            return default
        try:
            return int(parse_duration(value).total_seconds())
        except DurationError:
            self.problems.append(
                f"{sec.name}.{key}: {value!r} is not a duration such as 90m, 2h, 5d or 1w")
            return default
