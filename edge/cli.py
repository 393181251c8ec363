"""`hadir-edge`: enrol photos, recognise from a camera or video, calibrate thresholds, run the agent."""

from __future__ import annotations

import json
import logging
import math
from datetime import datetime
from pathlib import Path

import typer
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

app = typer.Typer(help="Hadir edge terminal: enrolment, recognition and the device agent.", no_args_is_help=True)
console = Console(stderr=True)


DEFAULT_CONFIG = Path("/etc/hadir/edge.toml")
CONFIG_HELP = "Device config (TOML; HADIR_EDGE_* variables override it). Default: /etc/hadir/edge.toml if present."


def _settings(config: Path | None):  # noqa: ANN202 - EdgeSettings (imported lazily to keep --help fast)
    """The device settings from `config` (or the default file when it exists); exits with the reason if bad."""
    from pydantic import ValidationError

    from edge.config import EdgeSettings
    from hadir.settings import load_settings

    if config is not None and not config.is_file():
        console.print(f"[red]Config file {config} not found.[/red] Give the device's edge.toml (from "
                      "'hadir device provision') or leave --config out to use the defaults.")
        raise typer.Exit(2)
    path = config if config is not None else (DEFAULT_CONFIG if DEFAULT_CONFIG.is_file() else None)
    try:
        return load_settings(EdgeSettings, path)
    except (ValidationError, ValueError) as exc:
        console.print(f"[red]Bad device configuration{f' in {path}' if path else ''}:[/red] {exc}")
        raise typer.Exit(2) from None


def _embed_folder(photos: Path, threads: int, label: str, version: int = 1,  # noqa: ANN202 - (Gallery, reports)
                  embedder: str = "dlib_resnet_v1"):
    """photos/<NIP>/*.jpg -> templates of `embedder` with a progress bar; exits with a clear message when empty."""
    from edge.enrol import enrol as embed_all
    from edge.infer.pipeline import FacePipeline
    from hadir.photo_folders import photos_by_person

    try:
        people = photos_by_person(photos)
    except FileNotFoundError as exc:
        console.print(f"[red]{exc}[/red]: give a folder like photos/<NIP>/*.jpg")
        raise typer.Exit(2) from None
    total = sum(len(v) for v in people.values())
    if not total:
        console.print(f"[red]No photos in {photos}[/red]: expected photos/<NIP>/*.jpg")
        raise typer.Exit(2)
    pipeline = FacePipeline(threads=threads, embedder=embedder)
    with Progress(console=console) as progress:
        task = progress.add_task(label, total=total)
        return embed_all(pipeline, people, version, progress=lambda: progress.advance(task))


@app.command()
def enrol(
    photos: Path = typer.Argument(..., help="Folder with one sub-folder per employee id (NIP) of photos."),
    out: Path = typer.Option(Path("gallery.npz"), help="Gallery file to write."),
    version: int = typer.Option(1, help="Gallery version number devices will report."),
    config: Path = typer.Option(None, help=CONFIG_HELP),
) -> None:
    """Make templates with the configured embedder from photos; report why each refused photo was refused."""
    rec = _settings(config).recognition
    gallery, report = _embed_folder(photos, rec.threads, "Enrolling", version, rec.embedder)
    table = Table(title="Photo quality report")
    for col in ("employee", "photo", "result"):
        table.add_column(col)
    for r in report:
        table.add_row(r.employee_id, Path(r.path).name, r.reason if r.accepted else f"[red]refused: {r.reason}")
    console.print(table)
    gallery.save(out)
    console.print(f"Wrote {out}: {len(gallery)} templates of {len(set(gallery.ids))} employees, "
                  f"model {gallery.model_id}, version {gallery.version}.")


@app.command()
def recognize(
    source: str = typer.Option(..., help="Video file, image folder, usb:N, rtsp://..., gst:<pipeline> or "
                                         "picamera2[:WxH]."),
    gallery: Path = typer.Option(..., exists=True, help="Gallery file from `hadir-edge enrol`."),
    start_at: datetime = typer.Option(None, help="Capture time of a file's first frame (ISO, with zone)."),
    config: Path = typer.Option(None, help=CONFIG_HELP + " Its [recognition] settings are used."),
) -> None:
    """Print one JSON line per decision (one per person per visit), with the device's own decision loop."""
    from edge.agent import EdgeAgent
    from edge.capture.factory import open_source
    from edge.infer.gallery import Gallery, GalleryError
    from edge.runner import recognition

    logging.basicConfig(level=logging.WARNING)
    settings = _settings(config)
    try:
        g = Gallery.load(gallery)
        src = open_source(source, start_at=start_at)
    except (GalleryError, FileNotFoundError, OSError) as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None
    pipeline, decider, liveness = recognition(settings.recognition, g)
    agent = EdgeAgent(settings.device_id, pipeline, decider, None, None, liveness=liveness)
    try:
        for d in agent.decisions(src.frames()):
            print(json.dumps({"employee_id": d.employee_id, "score": round(d.score, 4),
                              "margin": round(d.margin, 4), "frames": d.frames, "quality": round(d.quality, 3),
                              "first_seen": d.first_seen.isoformat(), "decided_at": d.decided_at.isoformat()}),
                  flush=True)
    finally:
        src.close()


@app.command()
def run(config: Path = typer.Option(None, help=CONFIG_HELP)) -> None:
    """Run the device agent: camera -> recognition -> signed events -> outbox -> hub, until stopped."""
    import threading

    from edge.runner import SetupError, install_signal_handlers, run_device

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    settings = _settings(config)
    stop = threading.Event()
    install_signal_handlers(stop)
    try:
        n = run_device(settings, stop)
    except (SetupError, ConnectionError, OSError) as exc:
        console.print(f"[red]Cannot run:[/red] {exc}")
        raise typer.Exit(1) from None
    console.print(f"Stopped cleanly after recording {n} events.")


@app.command()
def calibrate(
    photos: Path = typer.Argument(..., help="Labelled photos: one sub-folder per employee, several photos each."),
    far: float = typer.Option(0.001, help="Target false-accept rate for the accept threshold."),
    config: Path = typer.Option(None, help="Edge config (TOML) whose embedder is calibrated and into which "
                                           "[recognition] accept/unknown_below are written."),
) -> None:
    """Set the accept threshold from data for a target false-accept rate (and 'unknown' at 10x that rate)."""
    import numpy as np

    from edge.calibrate import Verification

    rec = _settings(config if config is not None and config.exists() else None).recognition
    embedded, _ = _embed_folder(photos, rec.threads, f"Embedding ({rec.embedder})", embedder=rec.embedder)
    labels = list(embedded.ids)
    ver = Verification.from_embeddings(labels, embedded.templates) if labels else None
    if ver is None or not len(ver.genuine) or not len(ver.impostor):
        console.print("[red]Need at least two people with two usable photos each to calibrate.[/red]")
        raise typer.Exit(2)
    needed = int(np.ceil(1 / far))
    if len(ver.impostor) < needed:
        console.print(f"[yellow]Only {len(ver.impostor)} impostor pairs: FAR {far} needs at least {needed} to be "
                      "measured; the threshold is the highest impostor score seen.[/yellow]")
    # Round up, so that rounding never lets the false-accept rate exceed the target.
    accept = math.ceil(ver.threshold_at_far(far) * 1e4) / 1e4
    unknown = min(accept, math.ceil(ver.threshold_at_far(min(1.0, far * 10)) * 1e4) / 1e4)
    console.print(f"{len(labels)} photos of {len(set(labels))} people; {len(ver.genuine)} genuine / "
                  f"{len(ver.impostor)} impostor pairs. accept = {accept} (TAR {ver.tar_at(accept):.4f}, "
                  f"FAR {ver.far_at(accept):.4f}); unknown_below = {unknown}.")
    print(json.dumps({"accept": accept, "unknown_below": unknown, "tar": ver.tar_at(accept),
                      "far": ver.far_at(accept), "photos": len(labels)}))
    if config:
        import tomlkit

        doc = tomlkit.parse(config.read_text()) if config.exists() else tomlkit.document()
        rec = doc.setdefault("recognition", tomlkit.table())
        rec["accept"], rec["unknown_below"] = accept, unknown
        config.write_text(tomlkit.dumps(doc))
        console.print(f"Wrote \\[recognition] accept and unknown_below to {config}.")


if __name__ == "__main__":
    app()
