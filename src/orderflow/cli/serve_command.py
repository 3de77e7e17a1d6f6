"""``orderflow serve``: the GraphQL API and the inspector under uvicorn; ``orderflow token``: a way in.

Both need the ``orderflow[api]`` extra, imported only when the command
runs, so the rest of the command line works without it.  The secret that
signs tokens comes from ``--secret`` or, better (it stays out of the
process list), ``ORDERFLOW_API_SECRET``.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

import typer

from orderflow.cli.app import (
    DEFAULT_DATABASE_URL,
    DatabaseUrl,
    UserError,
    app,
    database_engine,
    err,
    out,
    require_tables,
)

Secret = Annotated[
    str | None,
    typer.Option(
        "--secret",
        envvar="ORDERFLOW_API_SECRET",
        help="Signs and checks actor tokens (HS256 JWTs; 32+ random characters).",
    ),
]

NO_SECRET = (
    "the API needs a secret to sign actor tokens: set ORDERFLOW_API_SECRET or pass --secret "
    "(make one with: python -c 'import secrets; print(secrets.token_urlsafe(32))')"
)


def _api_extra() -> Any:
    """The ``orderflow.api`` package, or a one-line error saying how to install it."""
    try:
        import uvicorn  # noqa: F401

        import orderflow.api  # strawberry and starlette come with it
    except ImportError as exc:
        # printed here rather than raised as a UserError: main() renders messages as rich
        # markup, which would swallow the "[api]" of the install command
        missing = (exc.name or "a dependency").split(".")[0]
        err.print("[red]error:[/red] ", end="")
        err.print(
            f"this command needs the api extra ({missing} is not installed): "
            "pip install 'orderflow[api]'",
            markup=False,
            highlight=False,
        )
        raise typer.Exit(2) from exc
    return orderflow.api


@app.command()
def serve(
    database_url: DatabaseUrl = DEFAULT_DATABASE_URL,
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    secret: Secret = None,
    graphiql: Annotated[
        bool, typer.Option("--graphiql", help="Serve the GraphiQL IDE (loads it from a CDN).")
    ] = False,
) -> None:
    """Serve GraphQL at /graphql and the workflow inspector at / (uvicorn; the api extra)."""
    api = _api_extra()
    if not secret:
        raise UserError(NO_SECRET)
    import uvicorn
    from sqlalchemy.orm import sessionmaker

    from orderflow.cli.app_loader import AppError, app_spec, load_app, record_models

    spec = app_spec()
    if spec is not None:  # the app's service and its record types
        try:
            service = load_app(spec, database_url)
        except AppError as exc:
            raise UserError(str(exc)) from None
        application = api.create_app(
            service=service, records=list(record_models(service, spec).values()), secret=secret,
            graphiql=graphiql,
        )  # fmt: skip
        address = f"http://{host}:{port}"
        out.print(f"{spec}: GraphQL at {address}/graphql, the inspector at {address}/")
        uvicorn.run(application, host=host, port=port, log_level="info")
        return
    engine = database_engine(database_url)
    try:
        require_tables(engine)
        try:
            application = api.create_app(
                sessionmaker(engine, expire_on_commit=False), secret=secret, graphiql=graphiql
            )
        except ValueError as exc:
            raise UserError(str(exc)) from exc
        address = f"http://{host}:{port}"
        out.print(
            f"orderflow on {engine.url.render_as_string()}: GraphQL at {address}/graphql, "
            f"the inspector at {address}/ (sign in with a token from `orderflow token`); Ctrl-C stops it",
            highlight=False,
        )
        uvicorn.run(application, host=host, port=port, log_level="info")
    finally:
        engine.dispose()


@app.command()
def token(
    actor_id: Annotated[str, typer.Argument(help="The actor's id, as the log records it.")],
    label: Annotated[str | None, typer.Option(help="A name for people (default: the id).")] = None,
    permission: Annotated[
        list[str] | None,
        typer.Option("--permission", "-p", help="A permission the actor holds (repeatable)."),
    ] = None,
    hours: Annotated[float, typer.Option(help="Hours until the token expires.")] = 8.0,
    secret: Secret = None,
) -> None:
    """Print a signed actor token for `orderflow serve` (GraphQL header or the inspector's sign-in)."""
    api = _api_extra()
    if not secret:
        raise UserError(NO_SECRET)
    if hours <= 0:
        raise UserError(f"--hours must be positive, not {hours}")
    from orderflow.service import Principal

    actor = Principal(actor_id, label, frozenset(permission or ()))
    try:
        issued = api.issue_token(secret, actor, expires_in=timedelta(hours=hours))
    except ValueError as exc:
        raise UserError(str(exc)) from exc
    typer.echo(issued)
    err.print(
        f"token for {actor.label or actor.id} ({', '.join(sorted(actor.permissions)) or 'no permissions'}), "
        f"valid for {hours:g} hours",
        highlight=False,
    )
