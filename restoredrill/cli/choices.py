"""The closed sets of values options take: Typer lists them in --help and refuses others."""

from __future__ import annotations

from enum import StrEnum


class Engine(StrEnum):
    """One spelling of the engines on every command."""

    postgres = "postgres"
    mariadb = "mariadb"
    mysql = "mysql"


class DemoEngine(StrEnum):
    postgres = "postgres"
    mariadb = "mariadb"


class SandboxKind(StrEnum):
    local = "local"
    docker = "docker"
    rds = "rds"


class WalDelivery(StrEnum):
    stage = "stage"
    stream = "stream"


class DiffFormat(StrEnum):
    table = "table"
    json = "json"
    csv = "csv"


class ReportFormat(StrEnum):
    md = "md"
    html = "html"
    json = "json"
    junit = "junit"
    prometheus = "prometheus"


class Rows(StrEnum):
    """Which rows of a diff reapply puts back."""

    lost = "lost"
    changed = "changed"
    all = "all"
