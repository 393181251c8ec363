"""WIT (Waktu Indonesia Timur, UTC+9): the zone Ambon's attendance is computed and shown in; storage is UTC."""

from zoneinfo import ZoneInfo

WIT = ZoneInfo("Asia/Jayapura")
