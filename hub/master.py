"""Master data in a relational store (SQLAlchemy; SQLite by default, PostgreSQL by URL), every change audited.

OPDs, sites, employees, leave, duty orders, the city's holiday list, confirmed Ramadan dates, API users.
The attendance rules read plain data from here (`hub.tpp.resolve.Employee`, `Excuse`, `CityDay`,
`hub.tpp.policy.Ramadan`), never the database itself.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    create_engine,
    delete,
    event,
    false,
    select,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker

from hub.passwords import check_password, hash_password  # noqa: F401 - the names callers import from here
from hub.tpp.calendar import CityDay
from hub.tpp.policy import Ramadan
from hub.tpp.resolve import Employee as RuleEmployee
from hub.tpp.resolve import Excuse


class Base(DeclarativeBase):
    pass


class Opd(Base):
    __tablename__ = "opd"
    code: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))


class Site(Base):
    __tablename__ = "site"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    opd_code: Mapped[str] = mapped_column(ForeignKey("opd.code"))
    name: Mapped[str] = mapped_column(String(200))
    lat: Mapped[float] = mapped_column(Float)
    lon: Mapped[float] = mapped_column(Float)
    radius_m: Mapped[float] = mapped_column(Float, default=100.0)


class Employee(Base):
    __tablename__ = "employee"
    nip: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    opd_code: Mapped[str] = mapped_column(ForeignKey("opd.code"), index=True)
    status: Mapped[str] = mapped_column(String(8), default="PNS")  # PNS, PPPK, CPNS
    tpp_base: Mapped[int] = mapped_column(Integer, default=0)
    start: Mapped[date | None] = mapped_column(Date, nullable=True)
    end: Mapped[date | None] = mapped_column(Date, nullable=True)
    shift: Mapped[str | None] = mapped_column(String(32), nullable=True)  # a [shifts.<name>] of the policy
    position: Mapped[str | None] = mapped_column(String(200), nullable=True)  # jabatan, as in SIASN
    grade: Mapped[str | None] = mapped_column(String(32), nullable=True)  # pangkat/golongan, e.g. III/a

    def rule(self, shifts: dict | None = None) -> RuleEmployee:
        schedule = (shifts or {}).get(self.shift) if self.shift else None
        return RuleEmployee(self.nip, self.name, self.tpp_base, self.opd_code, self.start, self.end, schedule)


class Leave(Base):
    __tablename__ = "leave"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    nip: Mapped[str] = mapped_column(ForeignKey("employee.nip"), index=True)
    type: Mapped[str] = mapped_column(String(32))
    start: Mapped[date] = mapped_column(Date)
    end: Mapped[date] = mapped_column(Date)
    approver: Mapped[str] = mapped_column(String(100), default="")
    document: Mapped[str] = mapped_column(String(200), default="")


class DutyOrder(Base):
    __tablename__ = "duty_order"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    number: Mapped[str] = mapped_column(String(100))
    nip: Mapped[str] = mapped_column(ForeignKey("employee.nip"), index=True)
    start: Mapped[date] = mapped_column(Date)
    end: Mapped[date] = mapped_column(Date)
    destination: Mapped[str] = mapped_column(String(200), default="")
    lat: Mapped[float | None] = mapped_column(Float, nullable=True)
    lon: Mapped[float | None] = mapped_column(Float, nullable=True)
    radius_m: Mapped[float] = mapped_column(Float, default=200.0)


class Correction(Base):
    """A punch added by hand (broken terminal, power cut): requested by one user, approved by another (the
    four-eyes rule). Once approved it counts like a recognised event, shown as `correction:<id>`."""

    __tablename__ = "correction"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    nip: Mapped[str] = mapped_column(ForeignKey("employee.nip"), index=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    reason: Mapped[str] = mapped_column(String(300))
    # pending -> approved | rejected. Rows from before the approval step were approved by hand: kept so.
    status: Mapped[str] = mapped_column(String(16), default="pending", server_default="approved")
    requested_by: Mapped[str] = mapped_column(String(64), default="", server_default="")
    requested_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    approved_by: Mapped[str | None] = mapped_column(String(100), nullable=True)  # the deciding user
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class Holiday(Base):
    """The city's own list: a day off on top of the national and cuti bersama lists, or (`works`) a listed
    day off that the city's staff work."""

    __tablename__ = "holiday"
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    works: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class RamadanPeriod(Base):
    """Ramadan dates of one Hijri year as the government set them, confirmed by an admin."""

    __tablename__ = "ramadan_period"
    hijri_year: Mapped[int] = mapped_column(Integer, primary_key=True)
    start: Mapped[date] = mapped_column(Date)
    end: Mapped[date] = mapped_column(Date)
    source: Mapped[str] = mapped_column(String(300))  # the decision: sidang isbat of <date>, SKB, ...


class User(Base):
    """An API user. Tokens carry `token_epoch`: raising it (password change, disable, role change) ends them."""

    __tablename__ = "api_user"
    username: Mapped[str] = mapped_column(String(64), primary_key=True)
    password_hash: Mapped[str] = mapped_column(String(300))
    role: Mapped[str] = mapped_column(String(16))  # admin, opd, payroll, auditor, employee
    opd_code: Mapped[str | None] = mapped_column(ForeignKey("opd.code"), nullable=True)
    nip: Mapped[str | None] = mapped_column(String(32), nullable=True)
    disabled: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    token_epoch: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    failed_logins: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    locked_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    password_changed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class RevokedToken(Base):
    """Tokens ended by a logout, kept until they would have expired anyway."""

    __tablename__ = "revoked_token"
    token_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)


class ClosedMonth(Base):
    """A month the payroll office has closed: no correction, leave or duty order may change it until reopened."""

    __tablename__ = "closed_month"
    month: Mapped[str] = mapped_column(String(7), primary_key=True)  # YYYY-MM
    closed_by: Mapped[str] = mapped_column(String(64))
    closed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Template(Base):
    """A face template (biometric data): the embedding encrypted with the hub's template key (hub.enrolment)."""

    __tablename__ = "template"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    nip: Mapped[str] = mapped_column(String(32), index=True)
    model_id: Mapped[str] = mapped_column(String(64))
    vector: Mapped[bytes] = mapped_column(LargeBinary)  # Fernet token of float32 bytes
    quality: Mapped[float] = mapped_column(Float)
    source: Mapped[str] = mapped_column(String(200))  # photo file name, for the quality report only
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class GalleryVersion(Base):
    __tablename__ = "gallery_version"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version: Mapped[int] = mapped_column(Integer)


class AuditLog(Base):
    __tablename__ = "audit_log"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    actor: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(16))  # create, update, delete
    entity: Mapped[str] = mapped_column(String(32))
    entity_id: Mapped[str] = mapped_column(String(64))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON)



def _jsonable(obj: Base) -> dict[str, Any]:
    return {c.key: (v.isoformat() if isinstance(v, date | datetime) else v)
            for c in obj.__table__.columns if (v := getattr(obj, c.key)) is not None and c.key != "password_hash"}


class MasterData:
    def __init__(self, url: str):
        if url.startswith("sqlite:///") and url != "sqlite:///:memory:":
            Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        self.engine = create_engine(url, future=True)
        if url.startswith("sqlite"):
            event.listen(self.engine, "connect", lambda conn, _: conn.execute("PRAGMA foreign_keys=ON"))
        Base.metadata.create_all(self.engine)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    @contextmanager
    def session(self) -> Iterator[Session]:
        with self._sessions() as s, s.begin():
            yield s

    def audit(self, s: Session, actor: str, action: str, obj: Base) -> None:
        pk = obj.__mapper__.primary_key_from_instance(obj)
        s.add(AuditLog(at=datetime.now(timezone.utc), actor=actor, action=action, entity=obj.__tablename__,
                       entity_id=str(pk[0]), detail=json.loads(json.dumps(_jsonable(obj), default=str))))

    def log(self, actor: str, action: str, entity: str, entity_id: str, detail: dict[str, Any]) -> None:
        """An audit-log row for something that is not a master-data row (e.g. a device replaced)."""
        with self.session() as s:
            s.add(AuditLog(at=datetime.now(timezone.utc), actor=actor, action=action[:16], entity=entity[:32],
                           entity_id=entity_id[:64], detail=detail))

    def opd_problem(self, code: str) -> str | None:
        """None if the OPD `code` exists; else what to tell the operator (the known codes, how to add one)."""
        codes = sorted(o.code for o in self.list(Opd))
        if code in codes:
            return None
        known = ", ".join(codes) if codes else "none yet"
        return (f"unknown OPD {code!r} (known: {known}); add it first with: "
                f"hadir-hub add-opd {code} \"<name as in SIASN>\" --config /etc/hadir/hub.toml")

    def add(self, actor: str, obj: Base) -> Base:
        with self.session() as s:
            s.add(obj)
            s.flush()
            self.audit(s, actor, "create", obj)
        return obj

    def update(self, actor: str, model: type[Base], key: Any, changes: dict[str, Any]) -> Base | None:
        with self.session() as s:
            obj = s.get(model, key)
            if obj is None:
                return None
            for k, v in changes.items():
                setattr(obj, k, v)
            s.flush()
            self.audit(s, actor, "update", obj)
        return obj

    def delete(self, actor: str, model: type[Base], key: Any) -> bool:
        with self.session() as s:
            obj = s.get(model, key)
            if obj is None:
                return False
            self.audit(s, actor, "delete", obj)
            s.delete(obj)
        return True

    def employees(self, opd_code: str | None = None) -> list[Employee]:
        with self.session() as s:
            q = select(Employee).order_by(Employee.nip)
            if opd_code:
                q = q.where(Employee.opd_code == opd_code)
            return list(s.scalars(q))

    def delete_employee(self, actor: str, nip: str) -> int | None:
        """Remove an employee and erase their face templates in one transaction, both audited; the gallery
        version is raised so devices drop the face at the next push. None when there is no such employee;
        otherwise how many templates were erased. Raises IntegrityError while leave or duty orders refer to them."""
        with self.session() as s:
            emp = s.get(Employee, nip)
            if emp is None:
                return None
            erased = s.execute(delete(Template).where(Template.nip == nip)).rowcount
            s.add(AuditLog(at=datetime.now(timezone.utc), actor=actor, action="delete", entity="template",
                           entity_id=nip, detail={"templates": erased, "reason": "employee removed"}))
            row = s.get(GalleryVersion, 1) or GalleryVersion(id=1, version=0)
            row.version += 1
            s.add(row)
            self.audit(s, actor, "delete", emp)
            s.delete(emp)
            s.flush()
        return erased

    def employee(self, nip: str) -> Employee | None:
        with self.session() as s:
            return s.get(Employee, nip)

    def excuses_by_nip(self, nips: set[str] | None = None) -> dict[str, list[Excuse]]:
        """All leave and duty orders in two queries (one per table), grouped by NIP."""
        out: dict[str, list[Excuse]] = {}
        with self.session() as s:
            for x in s.scalars(select(Leave)):
                if nips is None or x.nip in nips:
                    out.setdefault(x.nip, []).append(Excuse("leave", x.start, x.end, x.type, f"leave:{x.id}"))
            for x in s.scalars(select(DutyOrder)):
                if nips is None or x.nip in nips:
                    out.setdefault(x.nip, []).append(Excuse("duty", x.start, x.end, x.number, f"duty:{x.id}"))
        return out

    def corrections(self, start: datetime, end: datetime) -> list[Correction]:
        """Corrections in [start, end). Times are kept in UTC (SQLite keeps no zone), returned zone-aware."""
        lo, hi = (t.astimezone(timezone.utc).replace(tzinfo=None) for t in (start, end))
        with self.session() as s:
            rows = list(s.scalars(select(Correction).where(Correction.at >= lo, Correction.at < hi,
                                                           Correction.status == "approved")))
        for c in rows:
            if c.at.tzinfo is None:
                c.at = c.at.replace(tzinfo=timezone.utc)
        return rows

    def holidays(self) -> list[CityDay]:
        """The city's list as plain rows for the rules: additions, and removals (`works=True`)."""
        with self.session() as s:
            return [CityDay(h.day, h.name, bool(h.works)) for h in s.scalars(select(Holiday).order_by(Holiday.day))]

    def ramadan(self) -> list[Ramadan]:
        """Ramadan dates confirmed by an admin, as policy blocks (the policy's Ramadan hours apply)."""
        with self.session() as s:
            return [Ramadan(from_=r.start, to=r.end, hijri_year=r.hijri_year, source=r.source)
                    for r in s.scalars(select(RamadanPeriod).order_by(RamadanPeriod.start))]

    def user(self, username: str) -> User | None:
        with self.session() as s:
            return s.get(User, username)

    def list(self, model: type[Base], **filters: Any) -> list[Base]:
        with self.session() as s:
            q = select(model)
            for k, v in filters.items():
                if v is not None:
                    q = q.where(getattr(model, k) == v)
            return list(s.scalars(q))
