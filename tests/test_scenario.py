"""Scenario files and the built-in data sets (the mock-client generator: test_mock_clients.py)."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import pytest

from nanoadmin.model import (
    BrokerModel,
    Client,
    DuplicateClient,
    RetainedMessage,
    Scenario,
    ScenarioError,
    apply_scenario,
    demo_scenario,
    load_scenario,
    parse_scenario,
    reference_scenario,
)

EXAMPLE = Path(__file__).parent.parent / "conf" / "scenario.toml"


def load_example(path: Path = EXAMPLE) -> Scenario:
    return load_scenario(path)


def check_example(scenario: Scenario) -> None:
    ids = [seed.client.client_id for seed in scenario.clients]
    assert ids == ["ref-sub-1", "ref-pubsub-2", "dashboard-ops", "meter-legacy-07"]
    first = scenario.clients[0]
    assert first.client == Client("ref-sub-1", username="alice", keepalive=60, proto_ver=4)
    assert first.subscriptions == (("sensors/+/temp", 1), ("alerts/#", 0))
    assert scenario.clients[1].subscriptions[1] == ("sensors/room1/temp", 0)
    offline = scenario.clients[2].client
    assert (offline.conn_state, offline.clean_start) == ("disconnected", False)
    meter = scenario.clients[3].client
    assert (meter.proto_name, meter.will_topic, meter.will_msg) == (
        "MQIsdp",
        "status/meter-legacy-07",
        "offline",
    )
    assert scenario.retained == (
        RetainedMessage("sensors/room1/temp", b"21.5", 1),
        RetainedMessage("status/ref-pubsub-2", b"online", 0),
    )
    assert len(scenario.bridges) == 1
    bridge = scenario.bridges[0]
    assert list(bridge) == [
        "name",
        "enable",
        "server",
        "proto_ver",
        "clientid",
        "clean_start",
        "username",
        "password",
        "keepalive",
        "forwards",
        "subscription",
    ]
    assert bridge["name"] == "emqx-cloud"
    assert bridge["server"] == "mqtt-tcp://broker.emqx.io:1883"
    assert bridge["forwards"] == [
        {"remote_topic": "fwd/alerts", "local_topic": "alerts/#", "qos": 1},
        {"remote_topic": "fwd/temp", "local_topic": "sensors/room1/temp"},
    ]
    assert bridge["subscription"] == [
        {"remote_topic": "cmd/site1/#", "local_topic": "cmd/site1", "qos": 1}
    ]


def test_example_scenario_loads() -> None:
    check_example(load_example())


def test_json_scenario_is_the_same_tree(tmp_path: Path) -> None:
    tree = tomllib.loads(EXAMPLE.read_text(encoding="utf-8"))
    as_json = tmp_path / "scenario.json"
    as_json.write_text(json.dumps(tree, indent=2), encoding="utf-8")
    check_example(load_scenario(as_json))
    assert load_scenario(as_json) == load_example()


def test_unknown_extension_is_told_apart_by_content(tmp_path: Path) -> None:
    tree = tomllib.loads(EXAMPLE.read_text(encoding="utf-8"))
    as_json = tmp_path / "scenario.data"
    as_json.write_text(json.dumps(tree), encoding="utf-8")
    as_toml = tmp_path / "scenario.txt"
    as_toml.write_text(EXAMPLE.read_text(encoding="utf-8"), encoding="utf-8")
    assert load_scenario(as_json) == load_scenario(as_toml) == load_example()


def test_applying_the_example_seeds_the_model() -> None:
    model = BrokerModel()
    apply_scenario(model, load_example())
    stats = model.stats()
    assert (stats.sessions, stats.connections, stats.subscribers) == (4, 3, 4)
    assert [s.topic for s in model.subscriptions("meter-legacy-07")] == [
        "cmd/meter-legacy-07",
        "$share/meters/site/1/tariff",
    ]
    assert len(model.retained()) == 2
    assert stats.messages_received == 0


def test_defaults() -> None:
    scenario = parse_scenario({"clients": [{"client_id": "x"}], "retained": [{"topic": "t"}]}, "s")
    assert scenario.clients[0].client == Client("x")
    assert scenario.clients[0].subscriptions == ()
    assert scenario.retained == (RetainedMessage("t", b"", 0),)
    assert parse_scenario({}, "s") == Scenario()


def test_apply_refuses_a_clash_and_leaves_the_model_unchanged() -> None:
    model = BrokerModel()
    model.add_client(Client("ref-pubsub-2"))
    with pytest.raises(DuplicateClient):
        apply_scenario(model, reference_scenario())
    assert [c.client_id for c in model.clients()] == ["ref-pubsub-2"]


def test_a_scenario_seeds_again_after_clear() -> None:
    scenario = demo_scenario()
    model = BrokerModel()
    apply_scenario(model, scenario)
    model.kick("ref-sub-1")
    model.clear()
    apply_scenario(model, scenario)
    assert len(model) == len(scenario.clients)
    assert model.get_client("ref-sub-1") == scenario.clients[0].client


# -- errors --------------------------------------------------------------------------------------


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def load_error(path: Path) -> str:
    with pytest.raises(ScenarioError) as caught:
        load_scenario(path)
    message = caught.value.message
    assert "\n" not in message
    assert message == str(caught.value)
    return message


@pytest.mark.parametrize(
    ("toml", "expected"),
    [
        (
            '[[clients]]\nclient_id = "a"\n[[clients]]\nclient_id = "x"\nkeepalive = "abc"\n',
            "clients[1] (client_id 'x'): keepalive has value 'abc'. Expected an integer 0..65535.",
        ),
        (
            '[[clients]]\nclient_id = "x"\nkeepalive = true\n',
            "clients[0] (client_id 'x'): keepalive has value true. Expected an integer 0..65535.",
        ),
        (
            '[[clients]]\nclient_id = "x"\nkeepalive = 70000\n',
            "clients[0] (client_id 'x'): keepalive has value 70000. Expected an integer 0..65535.",
        ),
        (
            '[[clients]]\nclient_id = "x"\nkepalive = 5\n',
            "clients[0] (client_id 'x'): unknown key 'kepalive'. Expected one of: client_id,",
        ),
        (
            '[[clients]]\nusername = "u"\n',
            "clients[0]: client_id is missing. Expected a non-empty string.",
        ),
        (
            '[[clients]]\nclient_id = ""\n',
            "clients[0]: client_id has value ''. Expected a non-empty string.",
        ),
        (
            '[[clients]]\nclient_id = "x"\n[[clients]]\nclient_id = "x"\n',
            "clients[1] (client_id 'x'): client_id 'x' is a duplicate.",
        ),
        (
            '[[clients]]\nclient_id = "x"\nproto_ver = 6\n',
            "clients[0] (client_id 'x'): proto_ver has value 6. Expected 3, 4 or 5.",
        ),
        (
            '[[clients]]\nclient_id = "x"\nproto_ver = 4.0\n',
            "clients[0] (client_id 'x'): proto_ver has value 4.0. Expected 3, 4 or 5.",
        ),
        (
            '[[clients]]\nclient_id = "x"\nclean_start = "yes"\n',
            "clients[0] (client_id 'x'): clean_start has value 'yes'. Expected true or false.",
        ),
        (
            '[[clients]]\nclient_id = "x"\nconn_state = "idle"\n',
            "clients[0] (client_id 'x'): conn_state has value 'idle'. "
            "Expected 'connected' or 'disconnected'.",
        ),
        (
            '[[clients]]\nclient_id = "x"\nwill_msg = "bye"\n',
            "clients[0] (client_id 'x'): will_msg is set without will_topic.",
        ),
        (
            '[[clients]]\nclient_id = "x"\nwill_topic = "a/#"\n',
            "clients[0] (client_id 'x'): will_topic has value 'a/#'. Expected a topic name",
        ),
        (
            '[[clients]]\nclient_id = "x"\nsubscriptions = [{ topic = "a/#/b" }]\n',
            "clients[0] (client_id 'x'): subscriptions[0].topic has value 'a/#/b'. "
            "Expected a valid MQTT topic filter.",
        ),
        (
            '[[clients]]\nclient_id = "x"\n'
            'subscriptions = [{ topic = "a" }, { topic = "b", qos = 3 }]\n',
            "clients[0] (client_id 'x'): subscriptions[1].qos has value 3. "
            "Expected an integer 0..2.",
        ),
        (
            '[[clients]]\nclient_id = "x"\nsubscriptions = [{ topic = "a", qso = 1 }]\n',
            "clients[0] (client_id 'x'): subscriptions[0] has unknown key 'qso'. "
            "Expected one of: topic, qos.",
        ),
        (
            '[[clients]]\nclient_id = "x"\nsubscriptions = ["a/b"]\n',
            "clients[0] (client_id 'x'): subscriptions[0] has value 'a/b'. Expected a table.",
        ),
        (
            '[[clients]]\nclient_id = "x"\nsubscriptions = [{ topic = "a" }, { topic = "a" }]\n',
            "clients[0] (client_id 'x'): subscriptions[1].topic 'a' is a duplicate.",
        ),
        (
            'clients = "x"\n',
            "clients has value 'x'. Expected an array of tables.",
        ),
        (
            "clients = [1]\n",
            "clients[0] has value 1. Expected a table.",
        ),
        (
            '[[sessions]]\nclient_id = "x"\n',
            "unknown key 'sessions'. Expected one of: clients, retained, bridges, rules.",
        ),
        (
            '[[retained]]\ntopic = "a/+"\n',
            "retained[0] (topic 'a/+'): topic has value 'a/+'. Expected a topic name",
        ),
        (
            '[[retained]]\ntopic = "a"\npayload = 5\n',
            "retained[0] (topic 'a'): payload has value 5. Expected a string.",
        ),
        (
            '[[retained]]\ntopic = "a"\n[[retained]]\ntopic = "a"\n',
            "retained[1] (topic 'a'): topic 'a' is a duplicate.",
        ),
        (
            '[[bridges]]\nname = "b"\n',
            "bridges[0] (name 'b'): server is missing. Expected a string.",
        ),
        (
            '[[bridges]]\nname = "b"\nserver = "localhost"\n',
            "bridges[0] (name 'b'): server has value 'localhost'. Expected a URL such as",
        ),
        (
            '[[bridges]]\nname = "b"\nserver = "mqtt-tcp://h:1883"\n'
            '[[bridges]]\nname = "b"\nserver = "mqtt-tcp://h:1883"\n',
            "bridges[1] (name 'b'): name 'b' is a duplicate.",
        ),
        (
            '[[bridges]]\nname = "b"\nserver = "mqtt-tcp://h:1883"\n'
            'subscription = [{ remote_topic = "r/#", local_topic = "l" }]\n',
            "bridges[0] (name 'b'): subscription[0].qos is missing. Expected an integer 0..2.",
        ),
        (
            '[[bridges]]\nname = "b"\nserver = "mqtt-tcp://h:1883"\n'
            'forwards = [{ remote_topic = "r/+", local_topic = "l" }]\n',
            "bridges[0] (name 'b'): forwards[0].remote_topic has value 'r/+'.",
        ),
        (
            '[[bridges]]\nname = "b"\nserver = "mqtt-tcp://h:1883"\nport = 1\n',
            "bridges[0] (name 'b'): unknown key 'port'.",
        ),
    ],
)
def test_errors_name_file_entry_and_field(tmp_path: Path, toml: str, expected: str) -> None:
    path = write(tmp_path, "scenario.toml", toml)
    message = load_error(path)
    assert message.startswith(f"{path}: {expected}")


def test_json_errors_name_the_entry_too(tmp_path: Path) -> None:
    path = write(tmp_path, "s.json", json.dumps({"clients": [{"client_id": "x", "qos": 1}]}))
    assert load_error(path).startswith(f"{path}: clients[0] (client_id 'x'): unknown key 'qos'.")
    path = write(
        tmp_path, "n.json", json.dumps({"clients": [{"client_id": "x", "username": None}]})
    )
    assert load_error(path) == (
        f"{path}: clients[0] (client_id 'x'): username has value null. Expected a string."
    )


def test_invalid_toml_names_file_and_line(tmp_path: Path) -> None:
    path = write(tmp_path, "bad.toml", '[[clients]]\nclient_id = "x"\nkeepalive = \n')
    message = load_error(path)
    assert message.startswith(f"{path}:3: not valid TOML: ")


def test_invalid_json_names_file_and_line(tmp_path: Path) -> None:
    path = write(tmp_path, "bad.json", '{\n  "clients": [\n    {"client_id": "x",}\n  ]\n}\n')
    message = load_error(path)
    assert message.startswith(f"{path}:3: not valid JSON: ")


def test_json_top_level_must_be_an_object(tmp_path: Path) -> None:
    path = write(tmp_path, "list.json", "[]")
    assert load_error(path) == (
        f"{path}: the top level is an array. Expected a table with clients, retained and bridges."
    )


def test_unknown_extension_reports_the_likely_format(tmp_path: Path) -> None:
    assert ": not valid JSON: " in load_error(write(tmp_path, "a.scn", '{"clients": [}'))
    assert ": not valid JSON: " in load_error(write(tmp_path, "c.scn", '[{"client_id": }]'))
    assert ": not valid TOML: " in load_error(write(tmp_path, "b.scn", "clients = [\n"))
    assert ": not valid TOML: " in load_error(write(tmp_path, "d.scn", "[[clients]]\nx = \n"))


def test_unknown_extension_toml_may_open_with_an_array_of_tables(tmp_path: Path) -> None:
    scenario = load_scenario(write(tmp_path, "s.txt", '[[clients]]\nclient_id = "a"\n'))
    assert [seed.client.client_id for seed in scenario.clients] == ["a"]


def test_unreadable_files(tmp_path: Path) -> None:
    missing = tmp_path / "missing.toml"
    assert load_error(missing).startswith(f"{missing}: cannot read the file: ")
    binary = tmp_path / "binary.toml"
    binary.write_bytes(b"\xff\xfe\x00")
    assert load_error(binary) == f"{binary}: not UTF-8 text"


def test_parse_scenario_names_its_source() -> None:
    with pytest.raises(ScenarioError, match=r"^<inline>: clients\[0\]: client_id is missing"):
        parse_scenario({"clients": [{}]}, "<inline>")


# -- built-in data sets --------------------------------------------------------------------------


def test_reference_scenario_is_the_recorded_broker() -> None:
    scenario = reference_scenario()
    assert [seed.client for seed in scenario.clients] == [
        Client("ref-sub-1", username="alice", keepalive=60, proto_ver=4),
        Client("ref-pubsub-2", username="bob", keepalive=120, proto_ver=5),
    ]
    assert [seed.subscriptions for seed in scenario.clients] == [
        (("sensors/+/temp", 1), ("alerts/#", 0)),
        (("cmd/ref-pubsub-2", 2), ("sensors/room1/temp", 0)),
    ]
    assert scenario.retained == (
        RetainedMessage("sensors/room1/temp", b"21.5", 1),
        RetainedMessage("status/ref-pubsub-2", b"online", 0),
    )
    assert scenario.bridges == ()


def test_demo_scenario_extends_the_reference() -> None:
    demo = demo_scenario()
    reference = reference_scenario()
    assert tuple(demo.clients[:2]) == tuple(reference.clients)
    assert demo.retained == reference.retained
    clients = [seed.client for seed in demo.clients]
    assert 5 <= len(clients) <= 6
    assert any(client.proto_ver == 3 for client in clients)
    assert any(client.conn_state == "disconnected" and not client.clean_start for client in clients)
    assert any(client.will_topic is not None for client in clients)
    topics = [topic for seed in demo.clients for topic, _ in seed.subscriptions]
    assert any(topic.startswith("$share/") for topic in topics)
    model = BrokerModel()
    apply_scenario(model, demo)
    assert len(model) == len(clients)


@pytest.mark.parametrize(
    ("name", "text", "reason"),
    [
        ("big.json", '{"clients": [{"client_id": "a", "keepalive": %s}]}' % ("9" * 5000), "4300"),
        ("big.toml", '[[clients]]\nclient_id = "a"\nkeepalive = %s\n' % ("9" * 5000), "4300"),
        ("deep.json", "[" * 100_000 + "]" * 100_000, "nested too deep"),
        ("deep.toml", "x = " + "[" * 5000, "nested too deep"),
        ("dup.json", '{"clients": [{"client_id": "a"}], "clients": []}', "'clients' twice"),
        ("lone.json", '{"clients": [{"client_id": "\\ud800"}]}', "surrogates"),
        ("lone2.json", '{"clients": [{"client_id": "a", "username": "\\udfff"}]}', "surrogates"),
        ("lone3.json", '{"retained": [{"topic": "t", "payload": "\\ud800"}]}', "surrogates"),
    ],
)
def test_a_scenario_no_response_could_carry_is_refused_in_one_line(
    tmp_path: Path, name: str, text: str, reason: str
) -> None:
    message = load_error(write(tmp_path, name, text))
    assert reason in message
    assert "\n" not in message
    assert len(message) < 300
