"""Keys: public ones refused outside DEBUG, random ones made once in the data directory, rotation."""

from __future__ import annotations

import multiprocessing
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet, InvalidToken
from django.apps import apps
from django.core.management import CommandError, call_command
from django.test import override_settings

from ctportal.keys import PUBLIC_KEYS, key_file
from syncjobs.access import Role
from syncjobs.management.commands.rotate_encryption_keys import Command as RotateCommand
from syncjobs.models import LinkedService, PipelineRun
from syncjobs.secrets import (
    EncryptedTokenField,
    SecretUnreadableError,
    decrypt,
    decrypt_mapping,
    derive_key,
    encrypt,
    encrypt_mapping,
    encrypted_fields,
)
from tests.factories import make_linked_service, make_run

ROOT = Path(__file__).resolve().parents[2]
STRONG = "k" * 30 + "0123456789abcdefghij"  # 50 characters, 21 different


def settings_in_subprocess(data_dir: Path, **env: str) -> subprocess.CompletedProcess:
    """Load the settings in a fresh process with only these CTPORTAL_ variables; print the keys."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("CTPORTAL_")}
    code = (
        "import django; django.setup(); from django.conf import settings; "
        "print(settings.SECRET_KEY); print(','.join(settings.FIELD_ENCRYPTION_KEYS))"
    )
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={**clean, "DJANGO_SETTINGS_MODULE": "ctportal.settings", "CTPORTAL_DATA_DIR": str(data_dir), **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("CTPORTAL_SECRET_KEY", "ctportal-local-development-key-change-me-in-production"),
        ("CTPORTAL_SECRET_KEY", "change-me"),
        ("CTPORTAL_SECRET_KEY", "a-short-but-random-looking-key-9f3a"),
        ("CTPORTAL_SECRET_KEY", "django-insecure-" + STRONG),
        ("CTPORTAL_SECRET_KEY_FALLBACKS", f"{STRONG},change-me"),
        ("CTPORTAL_FIELD_ENCRYPTION_KEYS", "change-me"),
    ],
)
def test_the_portal_refuses_to_start_on_a_public_or_short_key(tmp_path, variable, value):
    done = settings_in_subprocess(tmp_path, **{variable: value})
    assert done.returncode != 0
    assert "ImproperlyConfigured" in done.stderr and variable in done.stderr
    assert "will not start on it outside CTPORTAL_DEBUG" in done.stderr
    assert value not in done.stderr  # the message names the variable, never the key


def test_debug_accepts_a_public_key_for_local_work(tmp_path):
    done = settings_in_subprocess(tmp_path, CTPORTAL_DEBUG="true", CTPORTAL_SECRET_KEY="change-me")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[0] == "change-me"


def test_strong_keys_from_the_environment_are_used_as_given(tmp_path):
    fernet_key = Fernet.generate_key().decode()
    done = settings_in_subprocess(
        tmp_path, CTPORTAL_SECRET_KEY=STRONG, CTPORTAL_FIELD_ENCRYPTION_KEYS=f"{fernet_key},{STRONG}x"
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [STRONG, f"{fernet_key},{STRONG}x"]
    assert not (tmp_path / "secret_key").exists() and not (tmp_path / "field_encryption_key").exists()


def test_unset_keys_are_random_files_in_the_data_directory_made_once(tmp_path):
    first = settings_in_subprocess(tmp_path)
    assert first.returncode == 0, first.stderr
    secret_key, field_key = first.stdout.splitlines()
    assert len(secret_key) >= 50 and secret_key not in PUBLIC_KEYS
    Fernet(field_key.encode())  # a real Fernet key
    for name, value in (("secret_key", secret_key), ("field_encryption_key", field_key)):
        path = tmp_path / name
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert path.read_text().strip() == value
    again = settings_in_subprocess(tmp_path)
    assert again.stdout == first.stdout
    assert settings_in_subprocess(tmp_path / "elsewhere").stdout != first.stdout


def test_a_key_file_readable_by_others_is_refused(tmp_path):
    (tmp_path / "secret_key").write_text(STRONG)
    (tmp_path / "secret_key").chmod(0o644)
    done = settings_in_subprocess(tmp_path)
    assert done.returncode != 0 and "readable by other users" in done.stderr


def _read_key(path: str, barrier: multiprocessing.synchronize.Barrier, out: multiprocessing.Queue) -> None:
    barrier.wait()
    out.put(key_file(Path(path), lambda: os.urandom(16).hex()))


def test_processes_starting_together_all_get_the_one_key(tmp_path):
    context = multiprocessing.get_context("fork")
    barrier, out = context.Barrier(8), context.Queue()
    processes = [context.Process(target=_read_key, args=(str(tmp_path / "k"), barrier, out)) for _ in range(8)]
    for process in processes:
        process.start()
    keys = {out.get(timeout=30) for _ in processes}
    for process in processes:
        process.join(10)
    assert len(keys) == 1 and (tmp_path / "k").read_text().strip() in keys
    assert sorted(p.name for p in tmp_path.iterdir()) == ["k"]  # no temporary file left behind


# Rotation of the secret-encryption keys.

OLD, NEW = Fernet.generate_key().decode(), Fernet.generate_key().decode()
PASSWORD = {"type": "SecureString", "value": "s3cret-Pa55"}


def _stored_secrets() -> tuple[LinkedService, PipelineRun]:
    with override_settings(FIELD_ENCRYPTION_KEYS=[OLD]):
        ls = make_linked_service("Pg", type="PostgreSqlV2", server="h", database="d", username="u", password=PASSWORD)
        run = make_run(secret_parameters=encrypt_mapping({"token": "run-secret"}))
    return ls, run


def _read_back(ls: LinkedService, run: PipelineRun) -> tuple[dict, dict]:
    return (
        LinkedService.objects.get(pk=ls.pk).secrets(),
        decrypt_mapping(PipelineRun.objects.get(pk=run.pk).secret_parameters),
    )


@pytest.mark.django_db
def test_after_rotation_the_old_key_can_be_removed(capsys):
    ls, run = _stored_secrets()
    with override_settings(FIELD_ENCRYPTION_KEYS=[NEW]), pytest.raises(SecretUnreadableError):
        _read_back(ls, run)  # without rotation, dropping the old key strands the secrets
    with override_settings(FIELD_ENCRYPTION_KEYS=[NEW, OLD]):
        call_command("rotate_encryption_keys")
    out = capsys.readouterr().out
    assert "syncjobs.LinkedService.encrypted_secrets: 1 re-encrypted, 0 already under the first key" in out
    assert "syncjobs.PipelineRun.secret_parameters: 1 re-encrypted, 0 already under the first key" in out
    with override_settings(FIELD_ENCRYPTION_KEYS=[NEW], SECRET_KEY=STRONG + "-another"):
        assert _read_back(ls, run) == (
            {"properties.typeProperties.password": "s3cret-Pa55"},
            {"token": "run-secret"},
        )
        call_command("rotate_encryption_keys")
    assert "1 re-encrypted" not in capsys.readouterr().out  # a second rotation has nothing to do
    stored = PipelineRun.objects.get(pk=run.pk).secret_parameters
    with pytest.raises(InvalidToken):
        Fernet(OLD.encode()).decrypt(stored.encode())


@pytest.mark.django_db
def test_secrets_of_an_existing_database_still_decrypt_and_rotate_away_from_the_public_key(capsys):
    ls = make_linked_service("Pg", type="PostgreSqlV2", server="h", database="d", username="u", password=PASSWORD)
    # What earlier versions stored: a token under a key derived from the public default SECRET_KEY.
    legacy = Fernet(derive_key(PUBLIC_KEYS[0])).encrypt(b'{"properties.typeProperties.password": "old-pw"}')
    LinkedService.objects.filter(pk=ls.pk).update(encrypted_secrets=legacy.decode())
    assert LinkedService.objects.get(pk=ls.pk).secrets() == {"properties.typeProperties.password": "old-pw"}
    call_command("rotate_encryption_keys")
    assert "encrypted_secrets: 1 re-encrypted" in capsys.readouterr().out
    stored = LinkedService.objects.get(pk=ls.pk).encrypted_secrets
    with pytest.raises(InvalidToken):
        Fernet(derive_key(PUBLIC_KEYS[0])).decrypt(stored.encode())  # the database alone no longer reads it
    assert LinkedService.objects.get(pk=ls.pk).secrets() == {"properties.typeProperties.password": "old-pw"}


@pytest.mark.django_db
def test_a_secret_no_key_reads_fails_the_rotation_by_name():
    ls, _ = _stored_secrets()
    with override_settings(FIELD_ENCRYPTION_KEYS=[NEW]), pytest.raises(CommandError) as caught:
        call_command("rotate_encryption_keys")
    assert f"syncjobs.LinkedService.encrypted_secrets pk={ls.pk}" in str(caught.value)


def test_new_secrets_are_not_readable_from_the_database_and_public_keys_alone():
    token = encrypt("hunter2")
    assert decrypt(token) == "hunter2"
    for public in PUBLIC_KEYS:
        with pytest.raises(InvalidToken):
            Fernet(derive_key(public)).decrypt(token.encode())


def test_every_secret_column_is_in_the_rotation_registry():
    registered = {(model._meta.label, name) for model, name in encrypted_fields()}
    assert {("syncjobs.LinkedService", "encrypted_secrets"), ("syncjobs.PipelineRun", "secret_parameters")} <= (
        registered
    )
    for model in apps.get_models():
        for field in model._meta.get_fields():
            if any(word in field.name for word in ("secret", "encrypted")):
                assert isinstance(field, EncryptedTokenField), f"{model._meta.label}.{field.name} is not registered"


def test_the_rotation_command_declares_its_role():
    assert RotateCommand.required_role == Role.ADMIN
