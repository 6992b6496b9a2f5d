"""The ``hotline`` command: serve, db upgrade, models install, rota import, users, demo."""

from __future__ import annotations

import logging
import signal
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from hotline import logs
from hotline.settings import Settings

if TYPE_CHECKING:
    from accounts.model import SipPassword

app = typer.Typer(help="hotline: self-hosted contact centre for IT helpdesk hotlines.", no_args_is_help=True)
db_app = typer.Typer(help="The database.", no_args_is_help=True)
models_app = typer.Typer(help="Speech models.", no_args_is_help=True)
rota_app = typer.Typer(help="The shift rota.", no_args_is_help=True)
prompts_app = typer.Typer(help="Spoken prompts (menu, announcements, callbacks).", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(models_app, name="models")
users_app = typer.Typer(help="Users of the consoles and the API (create the first admin here).",
                        no_args_is_help=True)
app.add_typer(rota_app, name="rota")
app.add_typer(prompts_app, name="prompts")
app.add_typer(users_app, name="users")


def _settings() -> Settings:
    settings = Settings()
    logs.configure(json=settings.log_json)
    return settings


@app.command()
def serve() -> None:
    """Run Kamailio, the SIP workers, the rota scheduler and, in a process of its own, the API until Ctrl-C."""
    import secrets

    from hotline.apiprocess import ApiProcess, ApiProcessError
    from hotline.bootstrap import build
    from hotline.control import ControlServer

    settings = _settings()
    service = build(settings)

    def stop_requested(signum: int, _frame: object) -> None:
        raise KeyboardInterrupt(signal.Signals(signum).name)

    # SIGINT and SIGTERM both end in the same orderly stop: the API's process first, then every component.
    # Both are set here, SIGINT included: a service started in the background by a script inherits SIGINT
    # ignored, and Python then installs no handler of its own for it (uvicorn used to set one).
    signal.signal(signal.SIGINT, stop_requested)
    signal.signal(signal.SIGTERM, stop_requested)
    control: ControlServer | None = None
    api: ApiProcess | None = None
    failed: ApiProcessError | None = None
    try:
        service.start()
        authkey = secrets.token_bytes(32)
        control = ControlServer(service.control_handlers(), service.transcriber.service.live, authkey)
        control.start()
        api = ApiProcess(settings, control.address, authkey)
        api.start()
        api.supervise()
    except KeyboardInterrupt:
        pass
    except ApiProcessError as error:
        failed = error
    finally:
        if api is not None:
            api.stop()
        if control is not None:
            control.stop()
        service.stop()
    if failed is not None:
        raise _fail(str(failed))


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Create or migrate the database schema to the newest version."""
    from hotline.db import upgrade

    settings = _settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    upgrade(settings.resolved_database_url)
    typer.echo(f"database at {settings.resolved_database_url} is up to date")


@models_app.command("install")
def models_install(
    source: Annotated[str | None, typer.Option(help="A local .aar/.zip or model directory instead of Maven.")] = None,
    target: Annotated[Path | None, typer.Option(help="Where to unpack; default: the configured model path.")] = None,
) -> None:
    """Fetch, verify and unpack the English Vosk model."""
    from transcription.models import install_model

    settings = _settings()
    destination = target or settings.resolved_model_path
    last = {"stage": ""}

    def progress(p: object) -> None:
        stage = str(getattr(p, "stage", ""))
        done, total = getattr(p, "done", 0), getattr(p, "total", 0)
        if stage != last["stage"]:
            typer.echo("")
            last["stage"] = stage
        pct = f"{100 * done / total:5.1f} %" if total else ""
        typer.echo(f"\r{stage:<12} {pct}", nl=False)

    path = install_model(destination, source=source, progress=progress)
    typer.echo(f"\nmodel ready at {path}")


@rota_app.command("import")
def rota_import(path: Path) -> None:
    """Load agents, shifts and weekly patterns from a YAML or JSON file (all or nothing)."""
    from hotline.db import make_engine, upgrade
    from shifts.store import RotaStore

    settings = _settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    upgrade(settings.resolved_database_url)
    summary = RotaStore(make_engine(settings.resolved_database_url)).load_file(path, actor="cli")
    typer.echo(str(summary))


@prompts_app.command("make")
def prompts_make() -> None:
    """Speak the queue configuration's prompts with espeak-ng into DATA_DIR/prompts (only missing or
    changed ones; the service also does this at start)."""
    from hotline.bootstrap import make_prompts, queue_config

    settings = _settings()
    directory = settings.data_dir / "prompts"
    count = make_prompts(directory, queue_config(settings))
    typer.echo(f"{count} prompts ready in {directory}")
def _accounts(settings: Settings | None = None) -> object:
    from accounts.store import AccountStore
    from hotline.db import make_engine, upgrade

    settings = settings or _settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    upgrade(settings.resolved_database_url)
    return AccountStore(make_engine(settings.resolved_database_url))


def _fail(message: str) -> typer.Exit:
    typer.echo(message, err=True)
    return typer.Exit(1)


@users_app.command("create")
def users_create(
    username: str,
    role: Annotated[str, typer.Option(help="agent, supervisor or admin.")],
    extension: Annotated[str | None, typer.Option(help="The agent's rota extension (required for agents).")] = None,
    name: Annotated[str | None, typer.Option(help="Display name; default: the user name.")] = None,
    password_stdin: Annotated[bool, typer.Option(help="Read the password from standard input.")] = False,
) -> None:
    """Create a user; the password is asked for twice (or read from stdin)."""
    import sys
    from datetime import UTC, datetime

    from accounts.model import AccountError, DuplicateUser
    from accounts.store import AccountStore

    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    store = _accounts()
    assert isinstance(store, AccountStore)
    try:
        user = store.create_user(username, password, role, datetime.now(UTC), extension=extension,
                                 display_name=name)
    except (AccountError, DuplicateUser) as error:
        raise _fail(str(error)) from None
    typer.echo(f"created {user.role} {user.username} (id {user.id})")


@users_app.command("list")
def users_list() -> None:
    """Every user with role, extension, whether active, and whether their phone has a SIP password."""
    from accounts.model import stale_realm_notice
    from accounts.store import AccountStore

    settings = _settings()
    store = _accounts(settings)
    assert isinstance(store, AccountStore)
    realm = settings.sip_domain
    sip = store.sip_passwords()
    for user in store.list_users():
        state = "active" if user.active else "deactivated"
        typer.echo(f"{user.id}\t{user.username}\t{user.role}\t{user.extension or '-'}\t{state}\t"
                   f"{_sip_state(sip.get(user.id), realm)}")
    notice = stale_realm_notice(store.stale_sip_passwords(realm), realm)
    if notice is not None:
        typer.echo(notice, err=True)


def _sip_state(sip: SipPassword | None, realm: str) -> str:
    if sip is None:
        return "no SIP password"
    if sip.realm != realm:
        return f"SIP password for the old realm {sip.realm!r}: set it again"
    return f"SIP password set {sip.changed_at:%Y-%m-%d %H:%M} UTC"


@users_app.command("set")
def users_set(
    username: str,
    role: Annotated[str | None, typer.Option(help="A new role.")] = None,
    active: Annotated[bool | None, typer.Option("--active/--inactive", help="Allow or stop sign-in.")] = None,
    password_stdin: Annotated[bool, typer.Option(help="Read a new password from standard input.")] = False,
) -> None:
    """Change a user's role, activity or password."""
    import sys

    from accounts.model import AccountError, UnknownUser
    from accounts.store import AccountStore

    store = _accounts()
    assert isinstance(store, AccountStore)
    password = sys.stdin.readline().rstrip("\n") if password_stdin else None
    try:
        user = store.update_user(store.find_user(username).id, role=role, active=active, password=password)
    except (AccountError, UnknownUser) as error:
        raise _fail(str(error)) from None
    typer.echo(f"{user.username}: {user.role}, {'active' if user.active else 'deactivated'}")


@users_app.command("token")
def users_token(
    username: str,
    label: Annotated[str, typer.Option(help="What the token is for.")] = "cli",
    days: Annotated[int | None, typer.Option(min=1, help="Expire after this many days; default never.")] = None,
) -> None:
    """Create an API token for a user and print it (shown once; send it as 'Authorization: Bearer ...')."""
    from datetime import UTC, datetime, timedelta

    from accounts.model import TokenKind, UnknownUser
    from accounts.store import AccountStore

    store = _accounts()
    assert isinstance(store, AccountStore)
    try:
        user = store.find_user(username)
    except UnknownUser as error:
        raise _fail(str(error)) from None
    secret, _ = store.issue_token(user.id, TokenKind.API, label, datetime.now(UTC),
                                  ttl=timedelta(days=days) if days is not None else None)
    typer.echo(secret)


@users_app.command("sip-password")
def users_sip_password(
    username: str,
    password_stdin: Annotated[bool, typer.Option(help="Read the SIP password from standard input instead of "
                                                       "generating one.")] = False,
    remove: Annotated[bool, typer.Option(help="Remove the SIP password: the phone can no longer register.")]
    = False,
) -> None:
    """Set or rotate the SIP password of a user's phone (it registers as the user's extension, in the realm
    HOTLINE_SIP_DOMAIN). A generated password is printed once, alone on standard output; only its digests are
    stored."""
    import sys
    from datetime import UTC, datetime

    from accounts.model import AccountError, UnknownUser
    from accounts.store import AccountStore

    if remove and password_stdin:
        raise _fail("Give either --remove or --password-stdin, not both.")
    password = sys.stdin.readline().rstrip("\r\n") if password_stdin else None
    settings = _settings()
    store = _accounts(settings)
    assert isinstance(store, AccountStore)
    try:
        user = store.find_user(username)
        if remove:
            removed = store.remove_sip_password(user.id)
            typer.echo(f"removed the SIP password of {user.username}" if removed
                       else f"{user.username} had no SIP password")
            return
        done = store.set_sip_password(user.id, settings.sip_domain, datetime.now(UTC), password)
    except (AccountError, UnknownUser) as error:
        raise _fail(str(error)) from None
    where = f"{done.username} in the realm {done.realm}"
    if password is None:
        typer.echo(f"{user.username}'s phone authenticates as {where} with this password, shown once:", err=True)
        typer.echo(done.password)
    else:
        typer.echo(f"set the SIP password of {user.username}: their phone authenticates as {where}")


@app.command()
def demo(
    calls: Annotated[int, typer.Option(min=1, max=20, help="How many simulated callers.")] = 2,
) -> None:
    """Start everything, place calls from simulated callers to simulated agents, print the cases."""
    from hotline.demo import run_demo

    settings = _settings()
    run_demo(settings, calls=calls)


def main() -> None:
    logging.basicConfig(level=logging.WARNING)
    app()


if __name__ == "__main__":
    main()
