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


@app.command()
def enroll(
    photos: Path = typer.Argument(..., help="Folder with one sub-folder per employee id (NIP) of photos."),
    out: Path = typer.Option(Path("gallery.npz"), help="Gallery file to write."),
    version: int = typer.Option(1, help="Gallery version number devices will report."),
    threads: int = typer.Option(2, help="Inference threads."),
) -> None:
    """Make templates from photos; report why each refused photo was refused."""
    from edge.enroll import enroll as do_enroll
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
        task = progress.add_task("Enrolling", total=total)
        gallery, report = do_enroll(pipeline, people, version, lambda: progress.advance(task))
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
    detector: str = typer.Option("short", help="short, full or both."),
    threads: int = typer.Option(2),
    accept: float = typer.Option(0.92, help="Accept threshold (cosine)."),
    unknown_below: float = typer.Option(0.915, help="Below this a person is unknown."),
) -> None:
    """Print one JSON line per decision (one per person per visit)."""
    from edge.capture.factory import open_source
    from edge.decide.visits import DecisionPolicy, VisitDecider
    from edge.infer.gallery import Gallery, GalleryError
    from edge.infer.pipeline import BadImage, FacePipeline

    logging.basicConfig(level=logging.WARNING)
    try:
        g = Gallery.load(gallery)
        src = open_source(source, start_at=start_at)
    except (GalleryError, FileNotFoundError, OSError) as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None
    pipeline = FacePipeline(detector=detector, threads=threads)  # type: ignore[arg-type]
    decider = VisitDecider(g, DecisionPolicy(accept=accept, unknown_below=unknown_below), pipeline.model_id)

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
    if last is not None:
        emit(decider.flush(last))


if __name__ == "__main__":
    app()
