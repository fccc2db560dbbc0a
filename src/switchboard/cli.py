"""The `switchboard` command: serve, run the demo, upgrade the database, admin tasks."""

from __future__ import annotations

import sys
from typing import Optional

import typer
from rich.console import Console

from switchboard import cli_bulk, cli_maintenance
from switchboard.core.config import get_settings

app = typer.Typer(help="Switchboard: manage the MiVoice Business features of a customer's users.",
                  no_args_is_help=True, add_completion=False)
db_app = typer.Typer(help="Database tasks.", no_args_is_help=True)
partner_app = typer.Typer(help="Partner organisations.", no_args_is_help=True)
mivb_app = typer.Typer(help="MiVoice Business: sync checks, repairs and adoption.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(partner_app, name="partner")
app.add_typer(mivb_app, name="mivb")
console = Console()
err_console = Console(stderr=True)


def _session_factory():
    from switchboard.core.db import make_engine, make_session_factory

    return make_session_factory(make_engine(get_settings().resolved_database_url()))


def _unit_of_work():
    """One unit of work for a command: committed when it succeeds, rolled back otherwise."""
    from switchboard.core.uow import unit_of_work

    return unit_of_work(_session_factory())


def _system_ctx(session, label: str = "cli"):
    from switchboard.core.context import Actor, ServiceContext
    from switchboard.wiring import runtime_from_settings

    return ServiceContext(session=session, actor=Actor.system(label), runtime=runtime_from_settings(get_settings()))


def _port(value: int) -> int:
    if not 1 <= value <= 65535:
        raise typer.BadParameter("must be between 1 and 65535")
    return value


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Create or upgrade the database schema to the latest version."""
    from switchboard.migrations import upgrade

    url = get_settings().resolved_database_url()
    upgrade(url)
    console.print("[green]Database is up to date.[/]")


@partner_app.command("create")
def partner_create(
    name: str = typer.Option(..., "--name", help="Partner organisation name."),
    admin_email: str = typer.Option(..., "--admin-email", help="E-mail of the partner's first admin."),
    admin_password: str = typer.Option(
        ..., "--admin-password", envvar="SWITCHBOARD_ADMIN_PASSWORD", prompt="Password of the partner's first admin",
        hide_input=True, confirmation_prompt=True, show_default=False,
        help="Password of the first admin (at least 12 characters). Asked for (hidden, twice) when neither this "
             "flag nor SWITCHBOARD_ADMIN_PASSWORD gives it. A command line is visible to every local user (ps): "
             "prefer the prompt or the environment variable."),
) -> None:
    """Create a partner organisation and its first partner admin."""
    from switchboard.accounts import service as accounts
    from switchboard.core.errors import ServiceError

    try:
        with _unit_of_work() as session:
            partner, admin = accounts.create_partner(_system_ctx(session), {
                "name": name, "admin_email": admin_email, "admin_password": admin_password})
    except ServiceError as exc:
        _report_service_error(exc)
    console.print(f"[green]Partner created:[/] {partner.name} (id {partner.id}); admin {admin.email}")


def _report_service_error(exc) -> None:
    for item in exc.errors:
        where = f"--{item.field.replace('_', '-')}: " if item.field else ""
        err_console.print(f"[bold red]Error:[/] {where}{item.render()}")
    raise typer.Exit(code=2)


@app.command()
def demo() -> None:
    """Seed the demo data (a partner, an account with 25 users); safe to run twice."""
    from switchboard import demo as demo_data

    info = demo_data.seed(_session_factory())
    _print_demo(info)


def _print_demo(info) -> None:
    state = "created" if info.created else "already present"
    console.print(f"Demo data {state}. Sign in with password [bold]{info.password}[/] as:")
    console.print(f"  partner admin  [bold]{info.partner_admin}[/]")
    console.print(f"  account admin  [bold]{info.account_admin}[/]")


@app.command()
def serve(
    host: Optional[str] = typer.Option(None, help="Address to listen on (default SWITCHBOARD_HOST or 127.0.0.1)."),
    port: Optional[int] = typer.Option(None, help="Port (default SWITCHBOARD_PORT or 8000).", callback=lambda v: v if v is None else _port(v)),
    workers: int = typer.Option(1, min=1, max=64, help="Server processes sharing the port (one per core is a good "
                                                       "start; each has its own database connections)."),
) -> None:
    """Serve the console and the REST API."""
    import uvicorn

    from switchboard.app import create_app

    settings = get_settings()
    host, port = host or settings.host, port or settings.port
    if workers > 1:
        settings.resolved_secret_key()  # a key generated once, before the processes read it
        uvicorn.run("switchboard.app:create_app", factory=True, workers=workers, host=host, port=port,
                    log_level="info", proxy_headers=False)
        return
    uvicorn.run(create_app(settings), host=host, port=port, log_level="info", proxy_headers=False)


def _port_or_zero(value: int) -> int:
    return value if value == 0 else _port(value)


@app.command()
def run(
    host: Optional[str] = typer.Option(None, help="Address to listen on."),
    port: Optional[int] = typer.Option(None, help="Port to listen on.", callback=lambda v: v if v is None else _port(v)),
    sim_port: int = typer.Option(0, envvar="SIM_PORT", help="Port of the PBX simulator (default: SIM_PORT, else any "
                                 "free one).", callback=_port_or_zero),
) -> None:
    """Everything for a local try-out: upgrade the database, start the PBX simulator and a
    sync worker, seed the demo, serve. SIGTERM or SIGINT (Ctrl-C) stops all of it."""
    import uvicorn

    from switchboard import demo as demo_data, local_run
    from switchboard.app import create_app
    from switchboard.core.config import private_dir
    from switchboard.migrations import upgrade
    from switchboard.mivb_sim.launcher import launch
    from switchboard.wiring import runtime_from_settings

    stopper = local_run.Stopper()
    settings = get_settings()
    host, port = host or settings.host, port or settings.port
    if sim_port == port:
        raise typer.BadParameter(f"the simulator cannot listen on the server's port {port}", param_hint="--sim-port")
    try:
        server_socket = local_run.listen(host, port)  # before the simulator: it can never take this port
    except OSError as exc:
        err_console.print(f"[bold red]Error:[/] cannot listen on {host}:{port}: {exc.strerror} (PORT=… make run)")
        raise typer.Exit(code=1) from None
    upgrade(settings.resolved_database_url())
    private_dir(settings.var_dir)
    sim = worker_process = None
    try:
        with stopper.held():  # a signal now waits until both children are known
            sim = launch("--state", str(settings.var_dir / "mivb-sim.json"), auth=demo_data.DEMO_SIM_AUTH,
                         port=sim_port, stderr_path=settings.var_dir / "mivb-sim.log")
            worker_process = local_run.start_worker(settings.var_dir / "worker.log")
        factory = _session_factory()
        info = demo_data.seed(factory)
        demo_data.seed_mivb(factory, runtime_from_settings(settings), sim.url)
        url = local_run.url_of(host, port)
        console.rule("Switchboard")
        console.print(f"Console and API: [bold]{url}[/]  (API docs: {url}api/v1/docs)", soft_wrap=True)
        console.print(f"PBX simulator:   [bold]{sim.url}/[/]  (sync worker pid {worker_process.pid})", soft_wrap=True)
        _print_demo(info)
        console.print(f"  PBX simulator  user [bold]{sim.auth[0]}[/], password [bold]{sim.auth[1]}[/] "
                      "(its fault controls: docs/mivb-sim.md)", soft_wrap=True)
        console.rule()
        server = uvicorn.Server(uvicorn.Config(create_app(settings), host=host, port=port, log_level="info"))
        server.run(sockets=[server_socket])
    finally:
        server_socket.close()
        if worker_process is not None:
            local_run.stop_worker(worker_process)
        if sim is not None:
            sim.stop()


@app.command()
def worker(
    threads: int = typer.Option(32, min=1, max=256, help="Jobs pushed in parallel by this process (to all PBXs)."),
    per_pbx: Optional[int] = typer.Option(None, "--per-pbx", min=1, max=64,
                                          help="Most pushes in flight to any one PBX (default "
                                               "SWITCHBOARD_SYNC_MAX_IN_FLIGHT_PER_PBX or 4)."),
    batch: int = typer.Option(50, min=1, max=1000, help="Jobs claimed at a time."),
    once: bool = typer.Option(False, "--once", help="Run what is due now, then exit."),
    lease: int = typer.Option(60, min=1, max=3600, help="Seconds a claimed job stays ours without news."),
    retry_base: float = typer.Option(2.0, min=0.01, max=3600, help="First retry delay in seconds (doubles each time)."),
    retry_cap: float = typer.Option(300.0, min=0.01, max=86400, help="Longest retry delay in seconds."),
    max_attempts: int = typer.Option(12, min=1, max=1000, help="Attempts before a job is marked failed."),
    job_lease: int = typer.Option(1800, min=1, max=86400,
                                  help="Seconds a bulk job (import, adoption) stays ours before another worker may "
                                       "take it over."),
    job_checkpoint_lease: int = typer.Option(120, min=1, max=86400,
                                             help="The same for an import that commits every 100 rows (renewed at "
                                                  "each commit)."),
) -> None:
    """Run sync workers (push queued changes to the PBXs, retry with backoff) and a runner
    of bulk jobs (imports, adoptions)."""
    import signal
    import threading

    from switchboard.jobs.runner import JobRunner
    from switchboard.sync.worker import RetryPolicy, Worker
    from switchboard.wiring import runtime_from_settings

    factory = _session_factory()
    settings = get_settings()
    runtime = runtime_from_settings(settings)
    retry = RetryPolicy(base_seconds=retry_base, cap_seconds=retry_cap, max_attempts=max_attempts)

    def make_worker() -> Worker:
        return Worker(factory, runtime, lease_seconds=lease, retry=retry, threads=threads, batch_size=batch,
                      per_pbx=per_pbx or settings.sync_max_in_flight_per_pbx)

    jobs = JobRunner(factory, runtime, lease_seconds=job_lease, checkpoint_lease_seconds=job_checkpoint_lease)
    if once:
        bulk = 0
        while jobs.run_once():
            bulk += 1
        total = 0
        one = make_worker()
        try:
            while (ran := one.run_once()):
                total += ran
            one.purge()
        finally:
            one.close()
        console.print(f"Ran {bulk} bulk jobs and {total} sync jobs.")
        return
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    pool = [threading.Thread(target=make_worker().run_forever, args=(stop,), name="sync-worker", daemon=True),
            threading.Thread(target=jobs.run_forever, args=(stop,), name="job-runner", daemon=True)]
    for thread in pool:
        thread.start()
    console.print(f"Sync worker running with {threads} push threads, at most "
                  f"{per_pbx or settings.sync_max_in_flight_per_pbx} in flight to one PBX. Ctrl+C to stop.")
    while any(t.is_alive() for t in pool):
        for thread in pool:
            thread.join(timeout=0.5)


@mivb_app.command("verify")
def mivb_verify(
    account: str = typer.Option(..., "--account", help="Account id."),
    repair: bool = typer.Option(False, "--repair", help="Queue the pushes and removals that fix the differences."),
) -> None:
    """Read the PBX back and list every difference from the desired state."""
    from rich.progress import Progress

    from switchboard.core.errors import ServiceError
    from switchboard.pbx.connector import PbxError
    from switchboard.sync import drift

    with Progress(console=err_console, transient=True) as progress:
        task = progress.add_task("Reading the PBX", total=None)
        try:
            with _unit_of_work() as session:
                differences = drift.verify(
                    _system_ctx(session), account, repair=repair,
                    progress=lambda done, total: progress.update(task, completed=done, total=total))
        except ServiceError as exc:
            _report_service_error(exc)
        except PbxError as exc:
            err_console.print(f"[bold red]Error:[/] {exc.message}")
            raise typer.Exit(code=3)
    if differences.unmanaged:
        keys = ", ".join(differences.unmanaged[:20]) + (" …" if len(differences.unmanaged) > 20 else "")
        console.print(f"{len(differences.unmanaged)} unmanaged users on the PBX (not this account's; never "
                      f"changed): {keys}", soft_wrap=True, markup=False)
    if not differences:
        console.print("[green]No difference: the PBX matches the desired state of the managed users.[/]")
        return
    for diff in differences:
        console.print(f"{diff.user} ({diff.user_id}): {diff.describe()}", soft_wrap=True, markup=False)
    users = len({d.user_id for d in differences})
    console.print(f"[yellow]{len(differences)} differences on {users} users.[/]"
                  + (" Repairs queued." if repair else " Run again with --repair to fix them."))
    raise typer.Exit(code=0 if repair else 1)


cli_maintenance.register(app)  # secrets, backup, restore
cli_bulk.register(app, mivb_app)  # import, export, mivb adopt


def main() -> None:
    from switchboard import wiring

    wiring.install()
    app()


if __name__ == "__main__":
    main()
