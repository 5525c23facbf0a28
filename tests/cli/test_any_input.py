"""Whatever a user types, sets or leaves in the home, every command answers with a message and an exit
code (0, 1 or 2), never a traceback, and bad input (2) creates nothing. Random input, in process."""

import string

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from envbuilder.cli import app
from envbuilder.errors import PrerequisiteError
from tests.cli.test_cli import state_files

OPTIONS = {
    "up": ["--services", "--name", "--profile", "--set", "--revision", "--ttl", "--target", "--kube-context",
           "--node-image", "--pod-network", "--backend-url"],
    "down": ["--backend-url"],
    "status": ["--json"],
    "list": ["--json"],
    "scale": ["--backend-url"],
    "render": ["--services", "--profile", "--set", "--out", "--node-image", "--pod-network"],
    "smoke": ["--json"],
    "services": ["--json"],
}
VARIABLES = ["ENVBUILDER_PORT_RANGE", "ENVBUILDER_BASE_IMAGE", "ENVBUILDER_BROKER_IMAGE", "ENVBUILDER_HOME"]
# Values users get wrong: near-misses of real ones, huge and odd numbers, other scripts' digits.
awkward = st.one_of(
    st.sampled_from(["web", "web,worker", "nosuch", "", " ", "-", "--", "web=3", "web=99", "web.GREETING=hi",
                     "1000000000000d", "8h", "0s", "-1h", "kind", "existing", "default", "nightly", "Bad_Name",
                     "a" * 300, "42000-42999", "42000", "٤٢", "x-y", "../../etc", "HEAD", "file:///nonexistent",
                     "\x00", "web.GREETING", "=", "1e9", "calico", "kube-router", "--help",
                     "kindest/node:v1.35.4"]),
    st.text(alphabet=string.printable + "é٤\u200b", max_size=40),
)


def stop_before_anything_is_made(*_args, **_kwargs):
    raise PrerequisiteError("stopped here by the test: nothing is created past the prerequisites")


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    command=st.sampled_from(sorted(OPTIONS)),
    data=st.data(),
)
def test_any_options_end_in_a_message_and_an_exit_code_never_a_traceback(
    isolated_state, monkeypatch, tmp_path_factory, command, data
):
    monkeypatch.setattr("envbuilder.pipeline.up.check_prerequisites", stop_before_anything_is_made)
    arguments = [command]
    for option in data.draw(st.lists(st.sampled_from(OPTIONS[command]), max_size=4), label="options"):
        arguments += [option] if option == "--json" else [option, data.draw(awkward, label=option)]
    arguments += data.draw(st.lists(awkward, max_size=2), label="arguments")
    environment = {variable: data.draw(awkward, label=variable)
                   for variable in data.draw(st.lists(st.sampled_from(VARIABLES), max_size=2, unique=True))}
    if "ENVBUILDER_HOME" in environment:
        environment["ENVBUILDER_HOME"] = str(tmp_path_factory.mktemp("home") / environment["ENVBUILDER_HOME"][:20])
    # Whatever directory render is given, it writes below this test's own: every --out (the last one
    # counts), and a relative path drawn as one lands in a working directory deep in the test's temp.
    for index, token in enumerate(arguments[:-1]):
        if token == "--out":
            arguments[index + 1] = str(tmp_path_factory.mktemp("render"))
    working_directory = tmp_path_factory.mktemp("cwd").joinpath(*"abcdefgh")
    working_directory.mkdir(parents=True)
    monkeypatch.chdir(working_directory)
    before = state_files(isolated_state)

    result = CliRunner().invoke(app, arguments, env={key: value.replace("\x00", "") for key, value in environment.items()})

    assert result.exit_code in (0, 1, 2), (arguments, environment, result.output, result.exception)
    assert "Traceback" not in result.output and "this is a bug of envbuilder" not in result.output, (
        arguments, environment, result.output)
    assert not isinstance(result.exception, Exception) or isinstance(result.exception, SystemExit), (
        arguments, environment, repr(result.exception))
    if result.exit_code == 2:
        assert state_files(isolated_state) == before, (arguments, environment)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(content=st.one_of(st.binary(max_size=200), st.text(max_size=200).map(str.encode),
                         st.sampled_from([b"{}", b"[]", b"null", b'{"name": 1}', b'{"name": "x", "ttl_seconds": 1e999}'])),
       command=st.sampled_from([["list"], ["list", "--json"], ["status", "damaged"], ["down", "damaged"],
                                ["scale", "damaged", "web=2"], ["smoke", "damaged"]]))
def test_any_record_file_is_named_when_it_cannot_be_read_and_hides_no_other(isolated_state, command, content):
    (isolated_state / "environments").mkdir(exist_ok=True)
    (isolated_state / "environments" / "damaged.json").write_bytes(content)

    result = CliRunner().invoke(app, command)

    assert result.exit_code in (0, 1, 2), (command, content, result.output, repr(result.exception))
    assert "this is a bug of envbuilder" not in result.output, (command, content, result.output)
    assert not isinstance(result.exception, Exception) or isinstance(result.exception, SystemExit), (
        command, content, repr(result.exception))
    assert (isolated_state / "environments" / "damaged.json").read_bytes() == content
