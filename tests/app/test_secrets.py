"""Secrets: encrypted apart from the JSON, masked on the way out, write-only on the way in."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet, InvalidToken
from django.conf import settings
from django.db import connection
from django.test import override_settings

from syncjobs.models import LinkedService
from syncjobs.secrets import MASK, SecretUnreadableError, decrypt, derive_key, encrypt
from syncjobs.services.definitions import export_definition, save_definition
from tests.factories import make_dataset, make_linked_service, make_pipeline

pytestmark = pytest.mark.django_db

SQL_CONNECTION = (
    "Data Source=tcp:db.example.net,1433;Initial Catalog=sales;User ID=loader;Password={p;a=ss w0rd};Encrypt=True"
)
STORAGE_CONNECTION = (
    "DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=c2VjcmV0LWtleQ==;EndpointSuffix=core.windows.net"
)
SAS_URI = "https://acct.blob.core.windows.net/?sv=2022-11-02&ss=b&sig=Zm9vYmFy%2Bsig%3D&se=2030-01-01"


def _postgres(password: object) -> LinkedService:
    props = {
        "server": "127.0.0.1",
        "port": 5432,
        "database": "app",
        "username": "reader",
        "password": password,
        "sslMode": 2,
    }
    return make_linked_service("Pg", type="PostgreSqlV2", **props)


def _stored_row(pk: int) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT definition, encrypted_secrets FROM syncjobs_linkedservice WHERE id = %s", [pk])
        return " ".join(str(v) for v in cursor.fetchone())


def test_a_secure_string_is_stored_encrypted_and_never_in_the_json() -> None:
    ls = _postgres({"type": "SecureString", "value": "s3cret-Pa55"})
    row = _stored_row(ls.pk)
    assert "s3cret-Pa55" not in row
    assert ls.encrypted_secrets and ls.encrypted_secrets in row
    assert LinkedService.objects.get(pk=ls.pk).secrets() == {"properties.typeProperties.password": "s3cret-Pa55"}


def test_export_shows_the_mask_as_adf_does() -> None:
    ls = _postgres({"type": "SecureString", "value": "s3cret-Pa55"})
    exported = export_definition(LinkedService.objects.get(pk=ls.pk))
    assert exported["properties"]["typeProperties"]["password"] == {"type": "SecureString", "value": MASK}
    assert "s3cret-Pa55" not in str(exported)


def test_saving_the_mask_back_keeps_the_stored_secret() -> None:
    ls = _postgres({"type": "SecureString", "value": "s3cret-Pa55"})
    edited = export_definition(ls)
    edited["properties"]["description"] = "the reporting replica"  # where it points is unchanged
    saved, warnings = save_definition("linkedService", edited)
    assert warnings == []
    assert saved.properties["description"] == "the reporting replica"
    assert (
        LinkedService.objects.get(pk=ls.pk).revealed_definition()["properties"]["typeProperties"]["password"]["value"]
        == "s3cret-Pa55"
    )


def test_a_new_value_replaces_the_stored_secret() -> None:
    ls = _postgres({"type": "SecureString", "value": "old"})
    edited = export_definition(ls)
    edited["properties"]["typeProperties"]["password"]["value"] = "new"
    save_definition("linkedService", edited)
    assert LinkedService.objects.get(pk=ls.pk).secrets() == {"properties.typeProperties.password": "new"}


def test_a_plain_string_password_becomes_a_secure_string() -> None:
    ls = _postgres("plain-pw")
    assert ls.properties["typeProperties"]["password"] == {"type": "SecureString", "value": MASK}
    assert "plain-pw" not in _stored_row(ls.pk)


def test_connection_string_passwords_are_split_out() -> None:
    ls = make_linked_service("Sql", type="AzureSqlDatabase", connectionString=SQL_CONNECTION)
    stored = ls.properties["typeProperties"]["connectionString"]
    assert (
        stored
        == f"Data Source=tcp:db.example.net,1433;Initial Catalog=sales;User ID=loader;Password={MASK};Encrypt=True"
    )
    assert "a=ss w0rd" not in _stored_row(ls.pk)
    assert ls.revealed_definition()["properties"]["typeProperties"]["connectionString"] == SQL_CONNECTION


def test_storage_account_keys_and_sas_signatures_are_split_out() -> None:
    blob = make_linked_service("Blob", type="AzureBlobStorage", connectionString=STORAGE_CONNECTION)
    sas = make_linked_service("Sas", type="AzureBlobStorage", sasUri=SAS_URI)
    assert (
        blob.properties["typeProperties"]["connectionString"]
        == f"DefaultEndpointsProtocol=https;AccountName=acct;AccountKey={MASK};EndpointSuffix=core.windows.net"
    )
    assert (
        sas.properties["typeProperties"]["sasUri"]
        == f"https://acct.blob.core.windows.net/?sv=2022-11-02&ss=b&sig={MASK}&se=2030-01-01"
    )
    assert "c2VjcmV0LWtleQ" not in _stored_row(blob.pk) and "Zm9vYmFy" not in _stored_row(sas.pk)
    assert blob.revealed_definition()["properties"]["typeProperties"]["connectionString"] == STORAGE_CONNECTION
    assert sas.revealed_definition()["properties"]["typeProperties"]["sasUri"] == SAS_URI


def test_a_masked_secret_with_nothing_stored_saves_with_a_warning() -> None:
    definition = {
        "name": "Fresh",
        "properties": {
            "type": "AzureSqlDatabase",
            "typeProperties": {"connectionString": f"Server=x;Database=y;User ID=u;Password={MASK}"},
        },
    }
    _, warnings = save_definition("linkedService", definition)
    assert [w.path for w in warnings] == ["properties.typeProperties.connectionString#password"]


def test_a_run_snapshot_carries_no_secret() -> None:
    make_linked_service("Src", type="AzureSqlDatabase", connectionString=SQL_CONNECTION)
    make_dataset("T", "Src", type="AzureSqlTable", typeProperties={"schema": "dbo", "table": "t"})
    source = {"type": "AzureSqlSource", "sqlReaderQuery": "select 1 as x"}
    lookup = {
        "name": "Look",
        "type": "Lookup",
        "typeProperties": {"source": source, "dataset": {"referenceName": "T", "type": "DatasetReference"}},
    }
    snapshot = make_pipeline("P", [lookup]).snapshot()
    assert "Src" in snapshot["linkedServices"] and "a=ss w0rd" not in str(snapshot)


def test_tokens_round_trip_and_another_key_cannot_read_them() -> None:
    token = encrypt("hunter2")
    assert "hunter2" not in token and decrypt(token) == "hunter2"
    with override_settings(FIELD_ENCRYPTION_KEYS=["a-different-key"]), pytest.raises(SecretUnreadableError):
        decrypt(token)


def test_secrets_written_under_the_secret_key_of_earlier_versions_still_decrypt() -> None:
    old = Fernet(derive_key(settings.SECRET_KEY)).encrypt(b"hunter2").decode()
    assert decrypt(old) == "hunter2"
    new = encrypt("hunter3")
    with pytest.raises(InvalidToken):
        Fernet(derive_key(settings.SECRET_KEY)).decrypt(new.encode())  # new tokens use the field key only
