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


def _embed_folder(photos: Path, threads: int, label: str, version: int = 1):  # noqa: ANN202 - (Gallery, reports)
    """photos/<NIP>/*.jpg -> templates with a progress bar; exits with a clear message when there is nothing."""
    from edge.enroll import enroll as embed_all
    from edge.enroll import photos_by_person
    from edge.infer.pipeline import FacePipeline

    try:
        people = photos_by_person(photos)
    except FileNotFoundError as exc:
        console.print(f"[red]{exc}[/red]: give a folder like photos/<NIP>/*.jpg")
        raise typer.Exit(2) from None
    total = sum(len(v) for v in people.values())
    if not total:
        console.print(f"[red]No photos in {photos}[/red]: expected photos/<NIP>/*.jpg")
        raise typer.Exit(2)
    pipeline = FacePipeline(threads=threads)
    with Progress(console=console) as progress:
        task = progress.add_task(label, total=total)
        return embed_all(pipeline, people, version, progress=lambda: progress.advance(task))


@app.command()
def enroll(
    photos: Path = typer.Argument(..., help="Folder with one sub-folder per employee id (NIP) of photos."),
    out: Path = typer.Option(Path("gallery.npz"), help="Gallery file to write."),
    version: int = typer.Option(1, help="Gallery version number devices will report."),
    threads: int = typer.Option(2, help="Inference threads."),
) -> None:
    """Make templates from photos; report why each refused photo was refused."""
    gallery, report = _embed_folder(photos, threads, "Enrolling", version)
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
    gallery: Path = typer.Option(..., exists=True, help="Gallery file from `hadir-edge enroll`."),
    start_at: datetime = typer.Option(None, help="Capture time of a file's first frame (ISO, with zone)."),
    detector: str = typer.Option("auto", help="auto (multi-scale), short, full or both."),
    threads: int = typer.Option(2),
    accept: float = typer.Option(None, help="Accept threshold (cosine); default: the embedder's shipped one."),
    unknown_below: float = typer.Option(None, help="Below this a person is unknown; default: shipped."),
) -> None:
    """Print one JSON line per decision (one per person per visit)."""
    from edge.capture.factory import open_source
    from edge.decide.visits import VisitDecider, policy_for
    from edge.infer.gallery import Gallery, GalleryError
    from edge.infer.pipeline import BadImage, FacePipeline

    logging.basicConfig(level=logging.WARNING)
    try:
        g = Gallery.load(gallery)
        src = open_source(source, start_at=start_at)
    except (GalleryError, FileNotFoundError, OSError) as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None
    from edge.config import Recognition

    pipeline = FacePipeline(detector=detector, threads=threads)  # type: ignore[arg-type]
    rec = Recognition(detector=detector, accept=accept, unknown_below=unknown_below, liveness="none")
    decider = VisitDecider(g, policy_for(rec, pipeline.embedder, liveness=False), pipeline.model_id)

    def emit(decisions: list) -> None:
        for d in decisions:
            print(json.dumps({"employee_id": d.employee_id, "score": round(d.score, 4),
                              "margin": round(d.margin, 4), "frames": d.frames, "quality": round(d.quality, 3),
                              "first_seen": d.first_seen.isoformat(), "decided_at": d.decided_at.isoformat()}),
                  flush=True)

    last = None
    for frame in src.frames():
        last = frame.at
        faces = []
        try:
            for det in pipeline.detect(frame.rgb):
                faces.append((det, pipeline.analyse_detection(frame.rgb, det)
                              if decider.needs_embedding(det) else None))
        except BadImage as exc:
            console.print(f"frame {frame.index} skipped: {exc}")
        emit(decider.update(faces, frame.at))
        for notice in decider.take_notices():  # what the terminal's screen would say
            console.print(f"{notice.at.isoformat()} track {notice.track_id}: {notice.message}")
    if last is not None:
        emit(decider.flush(last))
        for notice in decider.take_notices():
            console.print(f"{notice.at.isoformat()} track {notice.track_id}: {notice.message}")


@app.command()
def run(config: Path = typer.Option(Path("/etc/hadir/edge.toml"),
                                   help="Device config (TOML); HADIR_EDGE_* variables override it.")) -> None:
    """Run the device agent: camera -> recognition -> signed events -> outbox -> hub, until stopped."""
    import threading

    from pydantic import ValidationError

    from edge.config import EdgeSettings
    from edge.runner import SetupError, install_signal_handlers, run_device
    from hadir.settings import load_settings

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        settings = load_settings(EdgeSettings, config if config.exists() else None)
    except (ValidationError, ValueError) as exc:
        console.print(f"[red]Bad device configuration in {config}:[/red] {exc}")
        raise typer.Exit(2) from None
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
    from edge.config import Recognition
    from edge.infer.embed import Embedder

    enrolled, _ = _embed_folder(photos, threads, "Embedding enrolment photos")
    if len(set(enrolled.ids)) < 2 and strangers is None:
        console.print("[red]Need a stranger set (--strangers) or at least two enrolled people to calibrate.[/red]")
        raise typer.Exit(2)
    others: dict[str, np.ndarray] = {}
    if strangers is not None:
        others = _stranger_templates(strangers, threads)
    rec = Recognition()
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


def _stranger_templates(folder: Path, threads: int) -> dict:
    """Templates of a stranger set: sub-folders are people; loose photos are one person each."""
    from edge.capture.folder_source import IMAGE_SUFFIXES

    if not folder.is_dir():
        console.print(f"[red]{folder} is not a folder of stranger photos[/red]")
        raise typer.Exit(2)
    gallery, _ = _embed_folder(folder, threads, "Embedding strangers") if any(
        p.is_dir() for p in folder.iterdir()) else (None, None)
    out = {}
    if gallery is not None:
        for person in dict.fromkeys(gallery.ids):
            out[person] = gallery.templates[[i for i, x in enumerate(gallery.ids) if x == person]]
    loose = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if loose:
        from edge.enroll import template_from_photo
        from edge.infer.pipeline import FacePipeline

        pipeline = FacePipeline(threads=threads)
        for path in loose:
            emb, _ = template_from_photo(pipeline, path)
            if emb is not None:
                out[f"loose:{path.name}"] = emb[None]
    return out


if __name__ == "__main__":
    app()
