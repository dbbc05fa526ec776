"""Rooms as the bot knows them: their setting, explicit roles, the services members
represent, and the per-room counters behind short ids (M1, A1, P1, T1)."""

from __future__ import annotations

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from bot.storage.models import Counter, Representative, RoleAssignment, Room


def get_room(s: Session, matrix_id: str) -> Room | None:
    return s.scalar(select(Room).where(Room.matrix_id == matrix_id))


def set_up(s: Session, room: Room) -> Room:
    """A room set up (again), at once visible to the rest of the transaction."""
    s.add(room)
    s.flush()
    return room


def explicit_role(s: Session, room: Room, user_id: str) -> str | None:
    return s.scalar(select(RoleAssignment.role).where(
        RoleAssignment.room_id == room.id, RoleAssignment.user_id == user_id))


def set_role(s: Session, room: Room, user_id: str, role: str) -> None:
    row = s.scalar(select(RoleAssignment).where(
        RoleAssignment.room_id == room.id, RoleAssignment.user_id == user_id))
    if row is None:
        s.add(RoleAssignment(room_id=room.id, user_id=user_id, role=role))
    else:
        row.role = role


def service_of(s: Session, room: Room, user_id: str) -> str | None:
    """The service the user represents in the room (from the transaction's reading)."""
    return next((service for service, users in services(s, room).items()
                 if user_id in users), None)


def set_service(s: Session, room: Room, user_id: str, service: str | None) -> None:
    forget_services(s)
    s.execute(delete(Representative).where(
        Representative.room_id == room.id, Representative.user_id == user_id))
    if service:
        s.add(Representative(room_id=room.id, user_id=user_id, service=service))


def services(s: Session, room: Room) -> dict[str, list[str]]:
    """Service name -> its representatives, services in alphabetical order. Read once per
    transaction (a vote asks twice: before and after it is counted)."""
    known = s.info.setdefault("services", {})
    if room.id not in known:
        known[room.id] = _read_services(s, room)
    return {service: list(users) for service, users in known[room.id].items()}


def forget_services(s: Session) -> None:
    """Representatives changed, or a change to them was rolled back."""
    s.info.pop("services", None)


def _read_services(s: Session, room: Room) -> dict[str, list[str]]:
    rows = s.execute(select(Representative.service, Representative.user_id).where(
        Representative.room_id == room.id).order_by(
        Representative.service, Representative.user_id)).all()
    out: dict[str, list[str]] = {}
    for service, user in rows:
        out.setdefault(service, []).append(user)
    return out


def next_number(s: Session, room: Room, kind: str) -> int:
    """Allocate the next short-id number of `kind` in this room (M1, M2, …)."""
    counter = s.scalar(select(Counter).where(Counter.room_id == room.id, Counter.kind == kind)
                       .with_for_update())
    if counter is None:
        counter = Counter(room_id=room.id, kind=kind, last=0)
        s.add(counter)
    counter.last += 1
    s.flush()
    return counter.last
