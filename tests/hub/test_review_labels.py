"""Every kind of item on the review list has a Bahasa label in the web app (no raw code reaches an officer)."""

from __future__ import annotations

import re
from pathlib import Path

import hub.review

ROOT = Path(hub.review.__file__).resolve().parent


def test_every_review_kind_has_a_label_in_the_web_app():
    source = (ROOT / "review.py").read_text()
    kinds = set(re.findall(r'Uncounted\([^,]+, "([a-z_]+)"', source))
    declared = set(re.findall(r'"([a-z_]+)"', re.search(r"kind: str  # (.*)", source).group(1)))
    page = (ROOT / "api" / "static" / "app" / "js" / "pages" / "review.js").read_text()
    labels = set(re.findall(r"(\w+): \[\"[^\"]+\", \"(?:warn|bad)\"\]", page))
    assert {"hilang", "tidak_dikenali"} <= kinds | declared
    assert kinds | declared <= labels, f"kinds without a label: {sorted((kinds | declared) - labels)}"
