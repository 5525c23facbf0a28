"""Settings come from the environment keys named in the contract."""

import pydantic
import pytest

from envbuilder.components.f5sync import contract
from envbuilder.components.f5sync.settings import Settings

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
