"""`hadir`: administration, provisioning, payroll what-ifs and the demo."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.console import Console

app = typer.Typer(help="Hadir administration: demo, TPP what-ifs, provisioning.", no_args_is_help=True)
tpp_app = typer.Typer(help="TPP tools for the payroll office.", no_args_is_help=True)
app.add_typer(tpp_app, name="tpp")
console = Console(width=None if Console().is_terminal else 150)


@app.command()
def demo(
    broker: str = typer.Option(None, help="Use this MQTT broker instead of the embedded one, "
                                          "e.g. mqtt://127.0.0.1:1883 (MQTT 5) or mqtt311://host:port."),
    influx: str = typer.Option(None, help="Store events in this InfluxDB (v1 HTTP API), "
                                          "e.g. http://127.0.0.1:8086, instead of the embedded SQLite store."),
    workdir: Path = typer.Option(None, help="Keep the demo's files here (default: a new temporary folder)."),
    json_out: bool = typer.Option(False, "--json", help="Also print a JSON summary as the last line."),
) -> None:
    """Run the whole flow for real: enrol, walk past a terminal, MQTT to the hub, attendance and TPP."""
    from hadir.demo import run_demo

    try:
        summary = run_demo(workdir, broker, influx, console)
    except (ConnectionError, OSError, RuntimeError) as exc:
        console.print(f"[red]Demo failed:[/red] {exc}")
        raise typer.Exit(1) from None
    if json_out:
        print(json.dumps(summary, default=str))
    if summary["correct"] != len(summary["events"]) or len(summary["events"]) != summary["visits"]:
        console.print("[red]Some decisions were wrong or missing.[/red]")
        raise typer.Exit(2)


@tpp_app.command("simulate")
def tpp_simulate(
    file: Path = typer.Argument(..., exists=True, dir_okay=False,
                                help="YAML scenario: month, policy, employees, holidays, leave, "
                                     "duty_orders, punches (see docs/tpp.md)."),
    json_out: bool = typer.Option(False, "--json", help="Print one JSON object instead of tables."),
) -> None:
    """What-if TPP for a month: resolve every working day and compute each employee's TPP."""
    from pydantic import ValidationError

    from hub.tpp.simulate import load_scenario, run, to_json

    try:
        scenario = load_scenario(file)
        results = run(scenario)
    except (ValidationError, ValueError, FileNotFoundError) as exc:
        console.print(f"[red]Cannot simulate {file}:[/red] {exc}")
        raise typer.Exit(2) from None
    if json_out:
        print(json.dumps(to_json(scenario.month, results)))
        return
    for r in results:
        console.rule(f"NIP {r.nip}")
        for d in r.days:
            console.print(f"{d.date:%a %d-%m} {d.code}")
        for line in r.explanation():
            console.print(line)


if __name__ == "__main__":
    app()
