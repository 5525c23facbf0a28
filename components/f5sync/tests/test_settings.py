"""Settings come from the environment keys named in the contract."""

import pydantic
import pytest

from f5sync import contract
from f5sync.settings import Settings

REQUIRED = {
    contract.F5_URL: "https://127.0.0.1:8443",
    contract.F5_USERNAME: "admin",
    contract.F5_PASSWORD: "secret",
    contract.F5SYNC_NAMESPACE: "shop",
    contract.F5SYNC_OWNER: "env-1",
}


def test_defaults_fill_everything_but_the_f5_and_the_namespace():
    settings = Settings.from_env(REQUIRED)
    assert settings.f5_verify_tls is False
    assert settings.f5_partition == "Common"
    assert settings.vip_address == "0.0.0.0"
    assert settings.resync_seconds == 30
    assert (settings.listen_host, settings.listen_port) == ("127.0.0.1", 8080)
    assert settings.f5_password.get_secret_value() == "secret"
    assert "secret" not in repr(settings)


def test_every_contract_key_is_read():
    settings = Settings.from_env(
        {
            **REQUIRED,
            contract.F5_VERIFY_TLS: "true",
            contract.F5_PARTITION: "Tenant",
            contract.F5_VIP_ADDRESS: "192.0.2.10",
            contract.F5SYNC_RESYNC_SECONDS: "5",
            contract.F5SYNC_DEBOUNCE_SECONDS: "0.01",
            contract.F5SYNC_LISTEN: "127.0.0.1:9000",
            "UNRELATED": "ignored",
        }
    )
    assert settings.f5_verify_tls is True
    assert (settings.f5_partition, settings.vip_address) == ("Tenant", "192.0.2.10")
    assert (settings.resync_seconds, settings.debounce_seconds) == (5, 0.01)
    assert settings.listen_port == 9000


@pytest.mark.parametrize(
    "override",
    [
        {contract.F5_URL: "f5:443"},
        {contract.F5SYNC_LISTEN: "8080"},
        {contract.F5SYNC_RESYNC_SECONDS: "0"},
        {contract.F5SYNC_OWNER: ""},
    ],
)
def test_invalid_values_are_refused(override):
    with pytest.raises(pydantic.ValidationError):
        Settings.from_env({**REQUIRED, **override})


def test_missing_required_keys_are_refused():
    with pytest.raises(pydantic.ValidationError):
        Settings.from_env({contract.F5_URL: "https://f5"})


def test_the_password_comes_from_its_file_when_one_is_named(tmp_path):
    """How the Deployment passes it: the Secret's key mounted as a file, never in the pod's environment."""
    password_file = tmp_path / "f5-password"
    password_file.write_text("from-the-file\n")
    without_password = {key: value for key, value in REQUIRED.items() if key != contract.F5_PASSWORD}
    settings = Settings.from_env({**without_password, contract.F5_PASSWORD_FILE: str(password_file)})
    assert settings.f5_password.get_secret_value() == "from-the-file"
    settings = Settings.from_env({**REQUIRED, contract.F5_PASSWORD_FILE: str(password_file)})
    assert settings.f5_password.get_secret_value() == "from-the-file"


def test_a_password_file_that_cannot_be_read_is_refused_naming_it(tmp_path):
    missing = tmp_path / "missing"
    with pytest.raises(pydantic.ValidationError, match=f"F5_PASSWORD_FILE: cannot read {missing}"):
        Settings.from_env({**REQUIRED, contract.F5_PASSWORD_FILE: str(missing)})
