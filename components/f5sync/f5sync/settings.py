"""The controller's settings, read from environment variables named in `contract`."""

from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from f5sync import contract


class Settings(BaseModel):
    model_config = ConfigDict(frozen=True, populate_by_name=True)

    f5_url: Annotated[str, Field(alias=contract.F5_URL, pattern=r"^https?://")]
    f5_username: Annotated[str, Field(alias=contract.F5_USERNAME, min_length=1)]
    f5_password: Annotated[SecretStr, Field(alias=contract.F5_PASSWORD)]
    f5_verify_tls: Annotated[bool, Field(alias=contract.F5_VERIFY_TLS)] = False
    f5_partition: Annotated[str, Field(alias=contract.F5_PARTITION, min_length=1)] = "Common"
    vip_address: Annotated[str, Field(alias=contract.F5_VIP_ADDRESS)] = "0.0.0.0"
    namespace: Annotated[str, Field(alias=contract.F5SYNC_NAMESPACE, min_length=1)]
    owner: Annotated[str, Field(alias=contract.F5SYNC_OWNER, min_length=1)]
    resync_seconds: Annotated[float, Field(alias=contract.F5SYNC_RESYNC_SECONDS, gt=0)] = 30.0
    debounce_seconds: Annotated[float, Field(alias=contract.F5SYNC_DEBOUNCE_SECONDS, ge=0)] = 0.05
    # Loopback unless told otherwise: a host process is not reachable from the network by default (the
    # in-cluster Deployment's ConfigMap says 0.0.0.0, for its probes).
    listen: Annotated[str, Field(alias=contract.F5SYNC_LISTEN)] = f"127.0.0.1:{contract.DEFAULT_HTTP_PORT}"
    pod_routes: Annotated[
        Literal["off", "podcidr", "calico", "auto"], Field(alias=contract.F5SYNC_POD_ROUTES)
    ] = contract.POD_ROUTES_OFF

    @model_validator(mode="before")
    @classmethod
    def _password_from_its_file(cls, values: Any) -> Any:
        """F5_PASSWORD_FILE, when set, gives the password (its content without the final newline)."""
        if not isinstance(values, Mapping) or not values.get(contract.F5_PASSWORD_FILE):
            return values
        path = Path(values[contract.F5_PASSWORD_FILE])
        try:
            password = path.read_text().removesuffix("\n").removesuffix("\r")
        except OSError as error:
            raise ValueError(f"{contract.F5_PASSWORD_FILE}: cannot read {path}: {error.strerror or error}") from None
        return {**values, contract.F5_PASSWORD: password}

    @field_validator("listen")
    @classmethod
    def _listen_is_host_port(cls, value: str) -> str:
        host, sep, port = value.rpartition(":")
        if not sep or not host or not port.isdigit():
            raise ValueError("must be HOST:PORT, e.g. 127.0.0.1:8080")
        return value

    @property
    def listen_host(self) -> str:
        return self.listen.rpartition(":")[0]

    @property
    def listen_port(self) -> int:
        return int(self.listen.rpartition(":")[2])

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> "Settings":
        """Reads the contract's keys; unset keys take their defaults (pydantic.ValidationError if invalid)."""
        keys = (*contract.CONFIG_ENV_KEYS, *contract.SECRET_ENV_KEYS)
        return cls.model_validate({key: environ[key] for key in keys if key in environ})
