"""`hadir-edge`: enrol photos, recognise from a camera or video, calibrate thresholds, run the agent."""

from __future__ import annotations

import json
import logging
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
    pipeline, decider, liveness, gate = recognition(settings.recognition, g)
    agent = EdgeAgent(settings.device_id, pipeline, decider, None, None, liveness=liveness, gate=gate,
                      on_notice=lambda n: console.print(f"{n.at.isoformat()} track {n.track_id}: {n.message}"))
    try:
        for d, live in agent.decisions(src.frames()):
            if live is None and liveness is not None:
                live = liveness.assess(d.landmarks)
            print(json.dumps({"employee_id": d.employee_id, "score": round(d.score, 4),
                              "margin": round(d.margin, 4), "frames": d.frames, "quality": round(d.quality, 3),
                              "first_seen": d.first_seen.isoformat(), "decided_at": d.decided_at.isoformat(),
                              "liveness": live.model_dump(mode="json") if live else None}),
                  flush=True)
    finally:
        src.close()


def _run_mode(settings, field: bool) -> None:  # noqa: ANN001 - EdgeSettings
    import threading

    from edge.runner import SetupError, install_signal_handlers, run_device

    stop = threading.Event()
    install_signal_handlers(stop)
    try:
        if field:
            from edge.field.app import run_field

            n = run_field(settings, stop, on_ready=lambda server: console.print(
                f"Field page on http://127.0.0.1:{server.port} (open it in the device's browser). Ctrl-C to stop."))
        else:
            n = run_device(settings, stop)
    except (SetupError, OSError) as exc:
        console.print(f"[red]Cannot run:[/red] {exc}")
        raise typer.Exit(1) from None
    console.print(f"Stopped cleanly after recording {n} events.")


@app.command()
def run(config: Path = typer.Option(None, help=CONFIG_HELP)) -> None:
    """Run the device agent (walk-past terminal, or field mode when the config says mode = "field"):
    camera -> recognition -> signed events -> outbox -> hub, until stopped. Starts without the broker."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    settings = _settings(config)
    _run_mode(settings, settings.mode == "field")


@app.command()
def field(config: Path = typer.Option(None, help=CONFIG_HELP)) -> None:
    """Run a field device: check-ins from a touch page on http://127.0.0.1:<field.port> (shown by Chromium
    in kiosk mode), with GPS, assignments from the hub and a random active challenge."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    _run_mode(_settings(config), True)


@app.command()
def calibrate(
    photos: Path = typer.Argument(..., help="Enrolment photos: one sub-folder per employee (NIP), 2+ photos each."),
    strangers: Path = typer.Option(None, help="Photos of people NOT enrolled (one sub-folder per person, or "
                                              "loose photos): the stranger set. More strangers, finer FPIR."),
    fpir: float = typer.Option(0.005, help="Target share of strangers' visits accepted as anyone (FPIR) at "
                                           "this gallery's size."),
    config: Path = typer.Option(None, help="Edge config (TOML) to write [recognition] accept/unknown_below into."),
    threads: int = typer.Option(2),
) -> None:
    """Open-set thresholds for a target FPIR at the gallery's size; prints the FPIR/FNIR to expect."""
    import numpy as np

    from edge.calibrate import thresholds_for_gallery
    from edge.infer.embed import Embedder

    rec = _settings(config if config is not None and config.exists() else None).recognition
    enrolled, _ = _embed_folder(photos, threads, f"Embedding enrolment photos ({rec.embedder})",
                                embedder=rec.embedder)
    if len(set(enrolled.ids)) < 2 and strangers is None:
        console.print("[red]Need a stranger set (--strangers) or at least two enrolled people to calibrate.[/red]")
        raise typer.Exit(2)
    others: dict[str, np.ndarray] = {}
    if strangers is not None:
        others = _stranger_templates(strangers, threads, rec.embedder)
    shipped = Embedder(rec.embedder).default_accept
    result = thresholds_for_gallery(list(enrolled.ids), enrolled.templates, fpir, others, rec.min_margin,
                                    floor=shipped, min_frames=rec.min_frames, min_agreement=rec.min_agreement)
    grows = ", ".join(f"{n} people: {v:.4f}" for n, v in result.fpir_if_gallery_grows.items())
    console.print(f"{result.gallery_size} people enrolled; {result.mated_visits} mated probes, "
                  f"{result.stranger_visits} stranger visits. "
                  f"accept = {result.accept}, unknown_below = {result.unknown_below}, min_margin = {rec.min_margin}.\n"
                  f"Expected at this gallery size: FPIR {result.expected_fpir:.4f} (strangers accepted), FNIR "
                  f"{result.expected_fnir:.4f} (employees not recognised from one photo; a walk-past with "
                  f"several frames does better), wrong identity {result.expected_wrong:.4f}.\n"
                  f"Estimated FPIR if the gallery grows: {grows}.")
    if result.note:
        console.print(f"[yellow]{result.note}[/yellow]")
    print(json.dumps({k: v for k, v in result.as_dict().items() if k != "fpir_if_gallery_grows"}
                     | {"fpir_if_gallery_grows": {str(k): v for k, v in result.fpir_if_gallery_grows.items()}}))
    if config:
        import tomlkit

        doc = tomlkit.parse(config.read_text()) if config.exists() else tomlkit.document()
        section = doc.setdefault("recognition", tomlkit.table())
        section["accept"], section["unknown_below"] = result.accept, result.unknown_below
        config.write_text(tomlkit.dumps(doc))
        console.print(f"Wrote \\[recognition] accept and unknown_below to {config}.")


def _stranger_templates(folder: Path, threads: int, embedder: str) -> dict:
    """Templates of a stranger set: sub-folders are people; loose photos are one person each."""
    from hadir.photo_folders import IMAGE_SUFFIXES

    if not folder.is_dir():
        console.print(f"[red]{folder} is not a folder of stranger photos[/red]")
        raise typer.Exit(2)
    gallery, _ = _embed_folder(folder, threads, "Embedding strangers", embedder=embedder) if any(
        p.is_dir() for p in folder.iterdir()) else (None, None)
    out = {}
    if gallery is not None:
        for person in dict.fromkeys(gallery.ids):
            out[person] = gallery.templates[[i for i, x in enumerate(gallery.ids) if x == person]]
    loose = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if loose:
        from edge.enrol import template_from_photo
        from edge.infer.pipeline import FacePipeline

        pipeline = FacePipeline(threads=threads, embedder=embedder)
        for path in loose:
            emb, _ = template_from_photo(pipeline, path)
            if emb is not None:
                out[f"loose:{path.name}"] = emb[None]
    return out


if __name__ == "__main__":
    app()
