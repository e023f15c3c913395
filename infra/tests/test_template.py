"""infra/template.yaml against the workspace and the sample events, without AWS.

- every function in the workspace is deployed, and every deployed function is built from the
  workspace, with what each function needs around it (log group, alarms, dead-letter queue);
- the environment each function reads at start is set by the template;
- the event rules route the sample events as intended (EventBridge patterns evaluated by the
  pinned local AWS, moto, the same matcher the local run uses);
- the SAM transform accepts the template and the dashboard body is valid JSON.
"""

from __future__ import annotations

import copy
import json
import re

import pytest
import stack
from moto.events.models import EventPattern

TEMPLATE = stack.load()
RESOURCES = TEMPLATE["Resources"]
FUNCTIONS = stack.template_functions(TEMPLATE)
WORKSPACE = stack.workspace_functions()
EVENTS = stack.ROOT / "events"

# What !Ref / !GetAtt stand for when a pattern is evaluated: the sample events' bucket.
SAMPLE = json.loads((EVENTS / "eventbridge-object-created.json").read_text(encoding="utf-8"))
SAMPLE_BUCKET = SAMPLE["detail"]["bucket"]["name"]
REFS = {"PipelineBucket": SAMPLE_BUCKET}

# The operators the rules may use: the local run's router implements exactly these.
OPERATORS = {"prefix", "suffix", "equals-ignore-case", "anything-but", "wildcard", "exists"}


def resources_of(kind: str) -> dict[str, dict]:
    return {k: v for k, v in RESOURCES.items() if v["Type"] == kind}


def refers_to(value, logical_id: str) -> bool:
    """Whether `value` contains a !Ref / !GetAtt of `logical_id` anywhere."""
    if stack.ref_name(value) == logical_id:
        return True
    if isinstance(value, stack._Tag):
        return refers_to(value.value, logical_id)
    if isinstance(value, dict):
        return any(refers_to(v, logical_id) for v in value.values())
    if isinstance(value, list):
        return any(refers_to(v, logical_id) for v in value)
    if isinstance(value, str) and "${" in value:
        return re.search(r"\$\{" + re.escape(logical_id) + r"[.}]", value) is not None
    return False


def function_ids() -> list[str]:
    return [f.logical_id for f in FUNCTIONS]


# --- functions: template <-> workspace -----------------------------------------------------------


def test_the_workspace_has_functions_and_the_template_deploys_some():
    assert WORKSPACE, "no functions/*/Cargo.toml found"
    assert FUNCTIONS, "no AWS::Serverless::Function in the template"


@pytest.mark.parametrize("package", WORKSPACE, ids=lambda w: w.package)
def test_every_workspace_function_is_deployed(package: stack.WorkspaceFunction):
    deployed = [f for f in FUNCTIONS if f.binary in package.binaries]
    assert deployed, (
        f"functions/{package.directory.name} ({package.package}) builds {list(package.binaries)} "
        "but no AWS::Serverless::Function in infra/template.yaml names one of them in "
        "Metadata.BuildProperties.Binary"
    )


@pytest.mark.parametrize("function", FUNCTIONS, ids=lambda f: f.logical_id)
def test_every_template_function_builds_from_the_workspace(function: stack.TemplateFunction):
    owners = [w for w in WORKSPACE if function.binary in w.binaries]
    assert len(owners) == 1, (
        f"{function.logical_id}: Binary '{function.binary}' must be built by exactly one "
        f"functions/*/Cargo.toml, found {[w.package for w in owners]}"
    )
    # cargo-lambda runs in CodeUri and SAM copies target/lambda/<binary>/bootstrap from there:
    # CodeUri must be the workspace root, whose members include the function's package.
    assert function.code_uri == stack.ROOT, f"{function.logical_id}: CodeUri must point at the workspace root"
    workspace = (stack.ROOT / "Cargo.toml").read_text(encoding="utf-8")
    assert '"functions/*"' in workspace, "the workspace no longer lists functions/* as members"
    assert function.metadata.get("BuildMethod") == "rust-cargolambda"
    props = function.properties
    assert props.get("Runtime") == "provided.al2023"
    assert props.get("Handler") == "bootstrap"
    assert props.get("Architectures") == ["arm64"]
    assert isinstance(props.get("MemorySize"), int) and isinstance(props.get("Timeout"), int)


@pytest.mark.parametrize("function", FUNCTIONS, ids=lambda f: f.logical_id)
def test_the_environment_a_function_requires_is_set(function: stack.TemplateFunction):
    owner = next(w for w in WORKSPACE if function.binary in w.binaries)
    source = "\n".join(p.read_text(encoding="utf-8") for p in sorted((owner.directory / "src").rglob("*.rs")))
    # Lambda sets AWS_REGION and the other AWS_* / _HANDLER variables itself (a template may not).
    required = {
        name
        for name in re.findall(r'required_env\(\s*"([A-Z0-9_]+)"', source)
        if not name.startswith(("AWS_", "_"))
    }
    variables = function.properties.get("Environment", {}).get("Variables", {})
    missing = required - set(variables)
    assert not missing, f"{function.logical_id} reads {sorted(missing)} at start; the template does not set them"


# --- what each function needs around it ---------------------------------------------------------


@pytest.mark.parametrize("function", FUNCTIONS, ids=lambda f: f.logical_id)
def test_function_logs_as_json_to_a_group_with_retention(function: stack.TemplateFunction):
    logging = function.properties.get("LoggingConfig", {})
    assert logging.get("LogFormat") == "JSON"
    group_id = stack.ref_name(logging.get("LogGroup"))
    assert group_id in resources_of("AWS::Logs::LogGroup"), f"{function.logical_id}: LoggingConfig.LogGroup"
    group = RESOURCES[group_id]["Properties"]
    assert "RetentionInDays" in group and "KmsKeyId" in group


@pytest.mark.parametrize("function", FUNCTIONS, ids=lambda f: f.logical_id)
def test_function_has_its_own_role(function: stack.TemplateFunction):
    role_id = stack.ref_name(function.properties.get("Role"))
    assert role_id in resources_of("AWS::IAM::Role"), f"{function.logical_id}: Role must be one of this template's roles"
    users = [f.logical_id for f in FUNCTIONS if stack.ref_name(f.properties.get("Role")) == role_id]
    assert users == [function.logical_id], f"role {role_id} is shared by {users}"


@pytest.mark.parametrize("function", FUNCTIONS, ids=lambda f: f.logical_id)
@pytest.mark.parametrize("metric", ["Errors", "Throttles"])
def test_function_has_error_and_throttle_alarms(function: stack.TemplateFunction, metric: str):
    alarms = [
        a["Properties"]
        for a in resources_of("AWS::CloudWatch::Alarm").values()
        if a["Properties"].get("Namespace") == "AWS/Lambda"
        and a["Properties"].get("MetricName") == metric
        and any(refers_to(d.get("Value"), function.logical_id) for d in a["Properties"].get("Dimensions", []))
    ]
    assert alarms, f"no {metric} alarm on {function.logical_id}"
    assert all(any(refers_to(x, "AlertTopic") for x in a.get("AlarmActions", [])) for a in alarms)


def rules_targeting(logical_id: str) -> list[tuple[str, dict]]:
    return [
        (rule_id, target)
        for rule_id, rule in stack.rules(TEMPLATE).items()
        for target in rule["Properties"].get("Targets", [])
        if stack.ref_name(target.get("Arn")) == logical_id
    ]


@pytest.mark.parametrize("function", FUNCTIONS, ids=lambda f: f.logical_id)
def test_every_event_path_into_a_function_ends_in_an_alarmed_dead_letter_queue(function: stack.TemplateFunction):
    queues = set()
    for rule_id, target in rules_targeting(function.logical_id):
        assert "RetryPolicy" in target, f"{rule_id}: target without a RetryPolicy"
        queue = stack.ref_name(target.get("DeadLetterConfig", {}).get("Arn"))
        assert queue in resources_of("AWS::SQS::Queue"), f"{rule_id}: target without an SQS dead-letter queue"
        queues.add(queue)
        permissions = [
            p["Properties"]
            for p in resources_of("AWS::Lambda::Permission").values()
            if stack.ref_name(p["Properties"].get("FunctionName")) == function.logical_id
            and stack.ref_name(p["Properties"].get("SourceArn")) == rule_id
        ]
        assert permissions, f"{rule_id} may not invoke {function.logical_id}: no AWS::Lambda::Permission"
    if rules_targeting(function.logical_id):
        configs = [
            c["Properties"]
            for c in resources_of("AWS::Lambda::EventInvokeConfig").values()
            if stack.ref_name(c["Properties"].get("FunctionName")) == function.logical_id
        ]
        assert configs, f"{function.logical_id} is invoked asynchronously but has no EventInvokeConfig"
        destination = stack.ref_name(configs[0].get("DestinationConfig", {}).get("OnFailure", {}).get("Destination"))
        assert destination in resources_of("AWS::SQS::Queue")
        queues.add(destination)
    for queue in queues:
        assert "KmsMasterKeyId" in RESOURCES[queue]["Properties"], f"{queue} is not encrypted"
        alarmed = [
            a
            for a in resources_of("AWS::CloudWatch::Alarm").values()
            if a["Properties"].get("Namespace") == "AWS/SQS"
            and any(refers_to(d.get("Value"), queue) for d in a["Properties"].get("Dimensions", []))
        ]
        assert alarmed, f"no alarm when {queue} holds messages"


# --- event routing --------------------------------------------------------------------------------


def ingest_pattern() -> dict:
    targets = rules_targeting("IngestFunction")
    assert len(targets) == 1, "ingest has exactly one rule"
    rule_id = targets[0][0]
    return stack.resolve(RESOURCES[rule_id]["Properties"]["EventPattern"], REFS)


def object_created(key: str, bucket: str = SAMPLE_BUCKET, detail_type: str = "Object Created") -> dict:
    event = copy.deepcopy(SAMPLE)
    event["detail-type"] = detail_type
    event["detail"]["bucket"]["name"] = bucket
    event["detail"]["object"]["key"] = key
    return event


def matches(pattern: dict, event: dict) -> bool:
    return EventPattern(json.dumps(pattern), pattern).matches_event(event)


def test_the_sample_eventbridge_event_goes_to_ingest():
    assert matches(ingest_pattern(), SAMPLE)


@pytest.mark.parametrize(
    "key",
    [
        "raw/Stranger.Things.S02E03.720p.HI.srt",
        "raw/Season%202/Stranger.Things.S02E03.720p.HI.srt",
        "raw/STRANGER.THINGS.S02E03.SRT",
        "raw/transcriptS02E03.csv",
        "raw/transcripts/transcript%20S02E03%20%E2%80%93%20final.csv",
        "raw/locations.jsonl",
        "raw/characters.jsonl",
        "raw/LOCATIONS.JSONL",
    ],
)
def test_uploads_ingest_reads_are_routed_to_it(key: str):
    assert matches(ingest_pattern(), object_created(key))


@pytest.mark.parametrize(
    "key",
    [
        "processed/x.jsonl",
        "processed/subtitles/S02E03.jsonl",
        "datasets/v1/chatbot/eleven.jsonl",
        "manifest/sources/subtitles/S02E03.json",
        "quarantine/raw/broken.srt",
        "raw/notes.txt",
        "raw/",
        "raw/S02E03.srt.txt",
        "rawS02E03.srt",
        "training-output/hawkins-eleven/output/model.tar.gz",
    ],
)
def test_other_objects_are_not_routed_to_ingest(key: str):
    assert not matches(ingest_pattern(), object_created(key))


def test_other_buckets_and_other_event_types_are_not_routed_to_ingest():
    pattern = ingest_pattern()
    key = "raw/Stranger.Things.S02E03.720p.HI.srt"
    assert not matches(pattern, object_created(key, bucket="someone-elses-bucket"))
    assert not matches(pattern, object_created(key, detail_type="Object Deleted"))
    assert not matches(pattern, {**object_created(key), "source": "custom.s3"})


def filters(node) -> list[dict]:
    """Every filter object (`{"prefix": ...}`, `{"wildcard": ...}`) in a pattern."""
    found = []
    if isinstance(node, dict):
        for key, value in node.items():
            if isinstance(value, list):
                found += [f for f in value if isinstance(f, dict)]
            found += filters(value)
    elif isinstance(node, list):
        for value in node:
            found += filters(value)
    return found


@pytest.mark.parametrize("rule_id", sorted(stack.rules(TEMPLATE)))
def test_rules_use_only_the_operators_the_local_router_implements(rule_id: str):
    pattern = stack.resolve(RESOURCES[rule_id]["Properties"]["EventPattern"], REFS)
    assert "$or" not in json.dumps(pattern), f"{rule_id}: $or"
    for found in filters(pattern):
        assert set(found) <= OPERATORS, f"{rule_id} uses {sorted(set(found) - OPERATORS)}"
        if "wildcard" in found:
            assert "\\" not in found["wildcard"], f"{rule_id}: wildcards are plain '*' globs, without escapes"


# --- template-wide ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    ["BucketName", "AlertTopicArn", "SageMakerExecutionRoleArn", "IngestFunctionName", "DashboardName"],
)
def test_outputs_the_cli_reads(name: str):
    assert name in TEMPLATE["Outputs"]


def policy_statements(role_id: str) -> list[dict]:
    statements = []
    for policy in RESOURCES[role_id]["Properties"].get("Policies", []):
        for statement in policy["PolicyDocument"]["Statement"]:
            if isinstance(statement, stack._Tag) and statement.name == "If":
                statement = statement.value[1]
            statements.append(statement)
    return statements


def as_list(value) -> list:
    return value if isinstance(value, list) else [value]


def test_no_role_grants_wildcard_actions():
    for role_id in resources_of("AWS::IAM::Role"):
        for statement in policy_statements(role_id):
            for action in as_list(statement["Action"]):
                assert action != "*" and not action.endswith(":*"), f"{role_id}: {action}"


def test_ingest_never_writes_raw_uploads():
    for statement in policy_statements("IngestRole"):
        if set(as_list(statement["Action"])) & {"s3:PutObject", "s3:DeleteObject"}:
            for resource in as_list(statement["Resource"]):
                assert "/raw/" not in str(resource)


def test_sagemaker_role_reads_datasets_and_writes_only_output_and_checkpoints():
    for statement in policy_statements("SageMakerExecutionRole"):
        actions = set(as_list(statement["Action"]))
        resources = [str(r) for r in as_list(statement["Resource"])]
        if "s3:GetObject" in actions:
            assert all(re.search(r"/(datasets|checkpoints)/\*", r) for r in resources), resources
        if "s3:PutObject" in actions:
            assert all(re.search(r"/(training-output|checkpoints)/\*", r) for r in resources), resources
        assert "iam:PassRole" not in actions


def test_dashboard_body_is_valid_json():
    body = RESOURCES["Dashboard"]["Properties"]["DashboardBody"]
    assert isinstance(body, stack._Tag) and body.name == "Sub"
    text = body.value[0] if isinstance(body.value, list) else body.value
    rendered = re.sub(r"\$\{([^}!]+)\}", lambda m: "1" if "Budget" in m.group(1) else "x", text)
    dashboard = json.loads(rendered)
    expressions = [
        m.get("expression", "")
        for w in dashboard["widgets"]
        for row in w["properties"].get("metrics", [])
        for m in row
        if isinstance(m, dict)
    ]
    for needle in ("AWS/SageMaker,EndpointName", "/aws/sagemaker/TrainingJobs", "Hawkins/Costs,model,kind,endpoint"):
        assert any(needle in e and e.startswith("SEARCH(") for e in expressions), needle


def test_sam_transform_accepts_the_template(monkeypatch):
    from cfnlint.decode import decode
    from samtranslator.translator.transform import transform

    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    template, problems = decode(str(stack.TEMPLATE))
    assert not problems
    template = json.loads(json.dumps(template))
    for resource in template["Resources"].values():
        if resource["Type"] == "AWS::Serverless::Function":
            # What `sam deploy` puts there after uploading the build.
            resource["Properties"]["CodeUri"] = "s3://bucket/function.zip"

    class NoManagedPolicies:
        def load(self) -> dict:
            return {}

    output = transform(template, {}, NoManagedPolicies())
    kinds = {r["Type"] for r in output["Resources"].values()}
    assert "AWS::Serverless::Function" not in kinds
    assert "AWS::Lambda::Function" in kinds

