from pathlib import Path

import pytest

from envbuilder.errors import InputError
from envbuilder.spec.catalog import load_catalog

REPO_CATALOG = Path(__file__).resolve().parents[2] / "stacks" / "services"

VALID = """\
name: api
build:
  context: fixtures/services/api
port: 8080
replicas: {default: 2, min: 1, max: 4}
needs_broker: true
expose: {vip_port: 80}
config:
  GREETING: hi
  TIMEOUT: 5
  DEBUG: false
smoke:
  - {name: root, path: /, expect_status: 200}
"""


def write(directory: Path, name: str, text: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{name}.yaml"
    path.write_text(text)
    return path


def test_the_shipped_catalog_has_web_and_worker():
    catalog = load_catalog(REPO_CATALOG)
    assert {"web", "worker"} <= set(catalog.names)
    assert catalog.entries["web"].expose is not None
    assert catalog.entries["worker"].expose is None


def test_config_values_become_environment_strings(tmp_path):
    write(tmp_path, "api", VALID)
    entry = load_catalog(tmp_path).entries["api"]
    assert entry.config == {"GREETING": "hi", "TIMEOUT": "5", "DEBUG": "false"}


@pytest.mark.parametrize(
    ("change", "field", "why"),
    [
        (("port: 8080", "port: 70000"), "port", "less than or equal to 65535"),
        (("default: 2, min: 1, max: 4", "default: 9, min: 1, max: 4"), "replicas", "outside min 1 .. max 4"),
        (("vip_port: 80", "vip_port: 0"), "expose.vip_port", "greater than or equal to 1"),
        (("vip_port: 80", "vip_port: 443"), "expose.vip_port", "443 is reserved: the F5's iControl REST API"),
        (("needs_broker: true", "needs_broker: true\nfavourite_colour: blue"), "favourite_colour", "Extra inputs"),
        (("GREETING: hi", "not-a-var: hi"), "config", "not a valid environment variable"),
        (("name: api", "name: API_1"), "name", "DNS label"),
    ],
)
def test_an_invalid_entry_names_the_file_the_field_and_why(tmp_path, change, field, why):
    path = write(tmp_path, "api", VALID.replace(*change))
    with pytest.raises(InputError) as raised:
        load_catalog(tmp_path)
    message = str(raised.value)
    assert str(path) in message and field in message and why in message


def test_two_services_on_one_vip_port_are_refused_naming_both_files(tmp_path):
    first = write(tmp_path, "api", VALID)
    second = write(tmp_path, "shop", VALID.replace("name: api", "name: shop"))
    with pytest.raises(InputError) as raised:
        load_catalog(tmp_path)
    message = str(raised.value)
    assert message.startswith(f"{second}: expose.vip_port: 80 is already the VIP port of api ({first})")
    assert "cannot listen on one port" in message


def test_malformed_yaml_names_the_file(tmp_path):
    path = write(tmp_path, "api", "name: [unclosed")
    with pytest.raises(InputError, match="not valid YAML") as raised:
        load_catalog(tmp_path)
    assert str(path) in str(raised.value)


def test_the_entry_name_must_match_its_file(tmp_path):
    write(tmp_path, "other", VALID)
    with pytest.raises(InputError, match="must match the file name"):
        load_catalog(tmp_path)


def test_unknown_services_are_named_with_the_known_ones():
    catalog = load_catalog(REPO_CATALOG)
    with pytest.raises(InputError) as raised:
        catalog.select(["web", "nosuch"])
    assert "nosuch" in str(raised.value)
    assert "known services: " in str(raised.value) and "web" in str(raised.value)


def test_a_service_may_name_the_service_it_asks_through_the_broker(tmp_path):
    write(tmp_path, "api", VALID + "rpc: {to: queue-worker, path: /ask}\n")
    write(tmp_path, "queue-worker", "name: queue-worker\nbuild: {context: x}\nport: 8081\nneeds_broker: true\n")
    rpc = load_catalog(tmp_path).entries["api"].rpc
    assert rpc is not None and (rpc.to, rpc.path) == ("queue-worker", "/ask")


def test_an_rpc_to_a_service_the_catalog_lacks_is_refused(tmp_path):
    path = write(tmp_path, "api", VALID + "rpc: {to: nowhere, path: /ask}\n")
    with pytest.raises(InputError, match=rf"{path}: rpc.to: 'nowhere' is not a service of the catalog"):
        load_catalog(tmp_path)


def test_an_rpc_without_the_broker_is_refused(tmp_path):
    write(tmp_path, "api", VALID.replace("needs_broker: true", "needs_broker: false") + "rpc: {to: api, path: /ask}\n")
    with pytest.raises(InputError, match="needs_broker must be true"):
        load_catalog(tmp_path)
