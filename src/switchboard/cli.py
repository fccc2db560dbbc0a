"""The `switchboard` command: serve, run the demo, upgrade the database, admin tasks."""

from __future__ import annotations

from typing import Optional

import typer
from rich.console import Console

from switchboard.config import get_settings

app = typer.Typer(help="Switchboard: manage the MiVoice Business features of a customer's users.",
                  no_args_is_help=True, add_completion=False)
db_app = typer.Typer(help="Database tasks.", no_args_is_help=True)
partner_app = typer.Typer(help="Partner organisations.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(partner_app, name="partner")
console = Console()
err_console = Console(stderr=True)


def _session():
    from switchboard.db import make_engine, make_session_factory

    engine = make_engine(get_settings().resolved_database_url())
    return make_session_factory(engine)()


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
    admin_password: str = typer.Option(..., "--admin-password", help="Password (at least 8 characters)."),
) -> None:
    """Create a partner organisation and its first partner admin."""
    from switchboard.accounts import service as accounts
    from switchboard.context import Actor, ServiceContext
    from switchboard.errors import ServiceError

    with _session() as session:
        ctx = ServiceContext(session=session, actor=Actor.system("cli"))
        try:
            partner, admin = accounts.create_partner(ctx, {
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

    with _session() as session:
        info = demo_data.seed(session)
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
) -> None:
    """Serve the console and the REST API."""
    import uvicorn

    from switchboard.app import create_app

    settings = get_settings()
    uvicorn.run(create_app(settings), host=host or settings.host, port=port or settings.port,
                log_level="info", proxy_headers=False)


@app.command()
def run(
    host: Optional[str] = typer.Option(None, help="Address to listen on."),
    port: Optional[int] = typer.Option(None, help="Port to listen on.", callback=lambda v: v if v is None else _port(v)),
) -> None:
    """Everything for a local try-out: upgrade the database, seed the demo, serve."""
    import uvicorn

    from switchboard import demo as demo_data
    from switchboard.app import create_app
    from switchboard.migrations import upgrade

    settings = get_settings()
    upgrade(settings.resolved_database_url())
    with _session() as session:
        info = demo_data.seed(session)
    host = host or settings.host
    port = port or settings.port
    console.rule("Switchboard")
    console.print(f"Console and API: [bold]http://{host}:{port}/[/]  (API docs: http://{host}:{port}/api/v1/docs)")
    _print_demo(info)
    console.rule()
    uvicorn.run(create_app(settings), host=host, port=port, log_level="info")


def main() -> None:
    app()


if __name__ == "__main__":
    main()
