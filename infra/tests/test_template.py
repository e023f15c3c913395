"""infra/template.yaml against the workspace and the sample events, without AWS.

- every function in the workspace is deployed, and every deployed function is built from the
  workspace, with what each function needs around it (log group, alarms, an event path that ends
  in an alarmed dead-letter queue, whether the rule invokes it or feeds its SQS queue);
- the environment each function reads at start is set by the template;
- the event rules route the sample events as intended (EventBridge patterns evaluated by the
  pinned local AWS, moto, the same matcher the local run uses): uploads to ingest, new corpus
  versions to the train queue;
- the roles grant what the functions and jobs call and no more (no writes to raw/, train passing
  only the training role and lifecycle only the hosting role, to SageMaker only; the token secret
  only to training jobs, when one is named; no writes to training output for endpoints);
- every rule with a dead-letter queue has alarms on EventBridge's own delivery failures;
- the cost schedule invokes the costs function with the scheduled event it reads, and the budget
  parameters reach it only when set;
- the web app is reached only through its HTTP API, synchronously, on a route without an
  authorizer only because the function verifies the Cognito tokens itself; its role writes only
  uploads and ratings, never deletes, asks only the project's endpoints and reviews only its
  packages; the user pool takes invited users only, its client is public with the code flow only,
  and the operator is an approver;
- the SAM transform accepts the template, which has no circular dependency, and the dashboard
  body is valid JSON, its cost panels reading the metrics the costs function emits.
"""

from __future__ import annotations

import copy
import json
import re
import tomllib

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


def mappings_into(function_id: str) -> list[tuple[str, dict]]:
    """The event source mappings (queues) that invoke `function_id`."""
    return [
        (mapping_id, mapping["Properties"])
        for mapping_id, mapping in resources_of("AWS::Lambda::EventSourceMapping").items()
        if stack.ref_name(mapping["Properties"].get("FunctionName")) == function_id
    ]


def queue_policy_statements(queue_id: str) -> list[dict]:
    return [
        statement
        for policy in resources_of("AWS::SQS::QueuePolicy").values()
        if any(stack.ref_name(q) == queue_id for q in policy["Properties"]["Queues"])
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
    ]


def check_rule_target(rule_id: str, target: dict) -> str:
    """A rule's target retries and has an SQS dead-letter queue that lets only this rule send."""
    assert "RetryPolicy" in target, f"{rule_id}: target without a RetryPolicy"
    queue = stack.ref_name(target.get("DeadLetterConfig", {}).get("Arn"))
    assert queue in resources_of("AWS::SQS::Queue"), f"{rule_id}: target without an SQS dead-letter queue"
    assert_only_rule_sends(queue, rule_id)
    return queue


def rules_delivering_to(queue_id: str) -> set[str]:
    """The rules that put events on `queue_id`, as their target or as their dead-letter queue."""
    return {
        rule_id
        for rule_id, rule in stack.rules(TEMPLATE).items()
        for target in rule["Properties"].get("Targets", [])
        if queue_id in (stack.ref_name(target.get("Arn")), stack.ref_name(target.get("DeadLetterConfig", {}).get("Arn")))
    }


def assert_only_rule_sends(queue_id: str, rule_id: str):
    """`rule_id` may send to the queue, and besides it only the other rules delivering there (a
    dead-letter queue shared by the rules of one function)."""
    allows = [s for s in queue_policy_statements(queue_id) if s["Effect"] == "Allow"]
    assert allows, f"{queue_id}: no queue policy lets {rule_id} send"
    senders = set()
    for statement in allows:
        assert statement["Principal"] == {"Service": "events.amazonaws.com"}, f"{queue_id}: {statement['Principal']}"
        assert statement["Action"] == "sqs:SendMessage", f"{queue_id}: {statement['Action']}"
        sources = {stack.ref_name(arn) for arn in as_list(statement["Condition"]["ArnEquals"]["aws:SourceArn"])}
        assert sources <= rules_delivering_to(queue_id), f"{queue_id}: {sorted(sources)} do not deliver to it"
        senders |= sources
    assert rule_id in senders, f"{queue_id}: {rule_id} may not send"


def http_routes_into(function_id: str) -> list[tuple[str, dict]]:
    """The HTTP API routes whose integration invokes `function_id`, as (route id, properties)."""
    found = []
    for route_id, route in resources_of("AWS::ApiGatewayV2::Route").items():
        target = route["Properties"].get("Target")
        text = target.value if isinstance(target, stack._Tag) and target.name == "Sub" else ""
        match = re.fullmatch(r"integrations/\$\{(\w+)\}", text)
        if match is None:
            continue
        integration = RESOURCES[match.group(1)]
        assert integration["Type"] == "AWS::ApiGatewayV2::Integration", route_id
        if stack.ref_name(integration["Properties"].get("IntegrationUri")) == function_id:
            found.append((route_id, route["Properties"]))
    return found


@pytest.mark.parametrize("function", FUNCTIONS, ids=lambda f: f.logical_id)
def test_every_function_has_an_event_path(function: stack.TemplateFunction):
    # Events from a rule or a queue; or, for the web app, the requests of its HTTP API, which
    # invokes it synchronously (the browser gets a failure, so there is no dead-letter queue).
    assert (
        rules_targeting(function.logical_id)
        or mappings_into(function.logical_id)
        or http_routes_into(function.logical_id)
    ), f"{function.logical_id}: no rule targets it, no queue is mapped to it and no HTTP API route reaches it"
    if http_routes_into(function.logical_id):
        assert not rules_targeting(function.logical_id) and not mappings_into(function.logical_id), (
            f"{function.logical_id}: an HTTP function takes requests only; events would need a dead-letter path"
        )


@pytest.mark.parametrize("function", FUNCTIONS, ids=lambda f: f.logical_id)
def test_every_event_path_into_a_function_ends_in_an_alarmed_dead_letter_queue(function: stack.TemplateFunction):
    queues = set()
    # A rule that invokes the function: its target's retries and DLQ, the invoke permission, and
    # Lambda's own retries (asynchronous invocation) ending in a DLQ as well.
    for rule_id, target in rules_targeting(function.logical_id):
        queues.add(check_rule_target(rule_id, target))
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
    # A queue mapped to the function: the queue's redrive to a DLQ, and every rule feeding the
    # queue with its own retries and DLQ, the queue letting only that rule send.
    for mapping_id, _mapping in mappings_into(function.logical_id):
        source = stack.ref_name(_mapping.get("EventSourceArn"))
        assert source in resources_of("AWS::SQS::Queue"), f"{mapping_id}: EventSourceArn must be a queue of this template"
        queues.add(source)
        redrive = RESOURCES[source]["Properties"].get("RedrivePolicy", {})
        dead_letters = stack.ref_name(redrive.get("deadLetterTargetArn"))
        assert dead_letters in resources_of("AWS::SQS::Queue"), f"{source}: no redrive policy to a dead-letter queue"
        assert 1 <= redrive.get("maxReceiveCount", 0) <= 10, f"{source}: maxReceiveCount"
        retention = RESOURCES[source]["Properties"].get("MessageRetentionPeriod", 345600)
        assert RESOURCES[dead_letters]["Properties"].get("MessageRetentionPeriod", 345600) > retention, (
            f"{dead_letters} must keep messages longer than {source} (a message's age counts from its first send)"
        )
        queues.add(dead_letters)
        feeding = rules_targeting(source)
        assert feeding, f"no rule puts events on {source}"
        for rule_id, target in feeding:
            queues.add(check_rule_target(rule_id, target))
            assert_only_rule_sends(source, rule_id)
    for queue in queues:
        assert "KmsMasterKeyId" in RESOURCES[queue]["Properties"], f"{queue} is not encrypted"
        assert any(
            s["Effect"] == "Deny" and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
            for s in queue_policy_statements(queue)
        ), f"{queue} accepts requests without TLS"
    for queue in queues - {stack.ref_name(m.get("EventSourceArn")) for _, m in mappings_into(function.logical_id)}:
        alarmed = [
            a
            for a in resources_of("AWS::CloudWatch::Alarm").values()
            if a["Properties"].get("Namespace") == "AWS/SQS"
            and a["Properties"].get("MetricName") == "ApproximateNumberOfMessagesVisible"
            and any(refers_to(d.get("Value"), queue) for d in a["Properties"].get("Dimensions", []))
            and any(refers_to(x, "AlertTopic") for x in a["Properties"].get("AlarmActions", []))
        ]
        assert alarmed, f"no alarm when {queue} holds messages"


@pytest.mark.parametrize("function", FUNCTIONS, ids=lambda f: f.logical_id)
def test_queues_into_a_function_report_failures_per_message_and_outlast_it(function: stack.TemplateFunction):
    for mapping_id, mapping in mappings_into(function.logical_id):
        assert mapping.get("FunctionResponseTypes") == ["ReportBatchItemFailures"], (
            f"{mapping_id}: without ReportBatchItemFailures one failure redelivers the whole batch"
        )
        assert 1 <= mapping.get("BatchSize", 10) <= 10, f"{mapping_id}: a small batch"
        queue = RESOURCES[stack.ref_name(mapping["EventSourceArn"])]["Properties"]
        window = mapping.get("MaximumBatchingWindowInSeconds", 0)
        assert queue.get("VisibilityTimeout", 30) >= 6 * function.properties["Timeout"] + window, (
            f"{mapping_id}: the queue's visibility timeout must be at least six times the function's timeout"
        )
        # The mapping polls with the function's role.
        role = stack.ref_name(function.properties["Role"])
        granted = {
            action
            for statement in policy_statements(role)
            if any(stack.ref_name(r) == stack.ref_name(mapping["EventSourceArn"]) for r in as_list(statement["Resource"]))
            for action in as_list(statement["Action"])
        }
        needed = {"sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"}
        assert needed <= granted, f"{role} lacks {sorted(needed - granted)} on the mapped queue"


# --- event routing --------------------------------------------------------------------------------


def pattern_into(function_id: str) -> dict:
    """The pattern of the one rule whose events reach `function_id`, directly or through its queue."""
    targets = rules_targeting(function_id)
    for _, mapping in mappings_into(function_id):
        targets += rules_targeting(stack.ref_name(mapping["EventSourceArn"]))
    assert len(targets) == 1, f"{function_id} is reached by exactly one rule, found {[t[0] for t in targets]}"
    rule_id = targets[0][0]
    return stack.resolve(RESOURCES[rule_id]["Properties"]["EventPattern"], REFS)


def ingest_pattern() -> dict:
    return pattern_into("IngestFunction")


def train_pattern() -> dict:
    return pattern_into("TrainFunction")


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


def test_a_changed_source_is_routed_to_the_train_queue():
    assert matches(train_pattern(), object_created("manifest/pending.json"))


def test_a_deploy_request_is_routed_to_lifecycle_only():
    request = object_created("requests/deploy/20261207t100000z-0a1b2c3d.json")
    assert lifecycle_rules_matching(request) == ["LifecycleRequestRule"]
    assert not matches(ingest_pattern(), request)
    assert not matches(train_pattern(), request)
    assert lifecycle_rules_matching(object_created("requests/deploy/x.json", bucket="someone-elses-bucket")) == []
    assert lifecycle_rules_matching(object_created("requests/train/x.json")) == []


def test_a_pushed_config_is_routed_to_the_train_queue():
    # hawkins config push writes the default location; train retrains the models it changed.
    assert matches(train_pattern(), object_created("config/hawkins.toml"))
    assert not matches(train_pattern(), object_created("config/hawkins.toml.bak"))
    assert not matches(ingest_pattern(), object_created("config/hawkins.toml"))


def test_a_training_request_is_routed_to_the_train_queue():
    # hawkins train writes requests/train/<id>.json; deploy requests go to lifecycle instead.
    assert matches(train_pattern(), object_created("requests/train/20261207t100000z-0a1b2c3d.json"))
    assert not matches(train_pattern(), object_created("requests/deploy/20261207t100000z-0a1b2c3d.json"))
    assert not matches(train_pattern(), object_created("raw/requests/train/x.json"))


def test_the_sample_train_message_is_an_event_the_train_rule_routes():
    # events/sqs-train-source-changed.json: what the function receives; each body is the event
    # EventBridge put on the queue.
    sample = json.loads((EVENTS / "sqs-train-source-changed.json").read_text(encoding="utf-8"))
    for record in sample["Records"]:
        event = json.loads(record["body"])
        bucket = event["detail"]["bucket"]["name"]
        rule_id = rules_targeting(stack.ref_name(mappings_into("TrainFunction")[0][1]["EventSourceArn"]))[0][0]
        pattern = stack.resolve(RESOURCES[rule_id]["Properties"]["EventPattern"], {"PipelineBucket": bucket})
        assert matches(pattern, event)


@pytest.mark.parametrize(
    "key",
    [
        "manifest/pending.json.tmp",
        "manifest/PENDING.JSON",
        "manifest/pending.json/",
        "manifest/sources/subtitles/S01E01.json",
        "raw/manifest/pending.json",
        "datasets/latest.json",
        "datasets/abc/manifest.json",
        "datasets/0123456789abcdef/manifest.json",
        "datasets/0123456789abcdef/chatbot/eleven.jsonl",
        "datasets/LATEST.JSON",
        "datasets/latest.json/",
        "datasets/old/latest.json",
        "xdatasets/latest.json",
        "raw/datasets/latest.json",
        "state/training/chatbot-eleven.json",
        "raw/Stranger.Things.S02E03.720p.HI.srt",
    ],
)
def test_other_objects_are_not_routed_to_train(key: str):
    assert not matches(train_pattern(), object_created(key))


def test_other_buckets_and_other_event_types_are_not_routed_to_train():
    pattern = train_pattern()
    key = "manifest/pending.json"
    assert not matches(pattern, object_created(key, bucket="someone-elses-bucket"))
    assert not matches(pattern, object_created(key, detail_type="Object Deleted"))
    assert not matches(pattern, {**object_created(key), "source": "custom.s3"})


def test_ingest_and_train_see_different_objects():
    # Ingest writes pending.json and train latest.json: were either routed back to ingest, each
    # upload or corpus would trigger another.
    assert not matches(ingest_pattern(), object_created("manifest/pending.json"))
    assert not matches(ingest_pattern(), object_created("datasets/latest.json"))
    assert not matches(train_pattern(), SAMPLE)


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


def pattern_rules() -> list[str]:
    return sorted(r for r, rule in stack.rules(TEMPLATE).items() if "EventPattern" in rule["Properties"])


def schedule_rules() -> list[str]:
    return sorted(r for r, rule in stack.rules(TEMPLATE).items() if "ScheduleExpression" in rule["Properties"])


@pytest.mark.parametrize("rule_id", sorted(stack.rules(TEMPLATE)))
def test_every_rule_is_either_a_pattern_or_a_schedule(rule_id: str):
    props = RESOURCES[rule_id]["Properties"]
    assert ("EventPattern" in props) != ("ScheduleExpression" in props), rule_id
    assert props.get("State") == "ENABLED", rule_id


@pytest.mark.parametrize("rule_id", pattern_rules())
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
    [
        "BucketName",
        "ConfigUri",
        "AlertTopicArn",
        "SageMakerExecutionRoleArn",
        "IngestFunctionName",
        "TrainFunctionName",
        "TrainQueueUrl",
        "CostFunctionName",
        "LifecycleFunctionName",
        "LifecycleDeadLetterQueueUrl",
        "DashboardName",
    ],
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


def object_statements(role_id: str) -> list[dict]:
    """The role's statements but the one that reads the model config (checked on its own below)."""
    return [s for s in policy_statements(role_id) if s.get("Sid") != "ReadModelConfig"]


# --- the model config in force (hawkins::config::live) -------------------------------------------

# Where the functions read the model config: the ConfigLocation parameter, else the pipeline
# bucket's config/hawkins.toml (shared/src/config/live.rs, CONFIG_KEY).
CONFIG_URI = stack._Tag(
    "If",
    [
        "HasConfigLocation",
        stack._Tag("Ref", "ConfigLocation"),
        stack._Tag("Sub", "s3://${PipelineBucket}/config/hawkins.toml"),
    ],
)
CONFIG_OBJECT = stack._Tag(
    "If",
    [
        "HasConfigLocation",
        stack._Tag(
            "Sub",
            [
                "arn:${AWS::Partition}:s3:::${Object}",
                {"Object": stack._Tag("Select", [1, stack._Tag("Split", ["s3://", stack._Tag("Ref", "ConfigLocation")])])},
            ],
        ),
        stack._Tag("Sub", "${PipelineBucket.Arn}/config/hawkins.toml"),
    ],
)


def reads_live_config(function: stack.TemplateFunction) -> bool:
    owner = next(w for w in WORKSPACE if function.binary in w.binaries)
    source = "\n".join(p.read_text(encoding="utf-8") for p in sorted((owner.directory / "src").rglob("*.rs")))
    return "LiveSettings::from_env" in source


# The functions told where the config is (and allowed to read it). Each reads it through
# LiveSettings::from_env (web: the models it shows; a bad config is alerted).
CONFIG_READERS = {"train", "lifecycle", "costs", "web"}


def told_live_config(function: stack.TemplateFunction) -> bool:
    return function.binary in CONFIG_READERS


def test_the_functions_that_read_the_config_are_told_where_it_is():
    readers = {f.binary for f in FUNCTIONS if reads_live_config(f)}
    assert readers == CONFIG_READERS, readers
    live = (stack.ROOT / "shared" / "src" / "config" / "live.rs").read_text(encoding="utf-8")
    assert 'pub const CONFIG_URI_ENV: &str = "HAWKINS_CONFIG_URI";' in live
    assert 'pub const CONFIG_KEY: &str = "config/hawkins.toml";' in live
    for function in FUNCTIONS:
        variables = function.properties.get("Environment", {}).get("Variables", {})
        if told_live_config(function):
            assert variables.get("HAWKINS_CONFIG_URI") == CONFIG_URI, function.logical_id
        else:
            assert "HAWKINS_CONFIG_URI" not in variables, function.logical_id
    assert TEMPLATE["Outputs"]["ConfigUri"]["Value"] == CONFIG_URI


@pytest.mark.parametrize("function", FUNCTIONS, ids=lambda f: f.logical_id)
def test_a_function_may_read_the_config_object_and_nothing_else_of_its_place(function: stack.TemplateFunction):
    role = stack.ref_name(function.properties["Role"])
    grants = [s for s in policy_statements(role) if s.get("Sid") == "ReadModelConfig"]
    if not told_live_config(function):
        assert grants == [], f"{function.logical_id} reads no config"
        return
    assert len(grants) == 1, grants
    assert grants[0]["Effect"] == "Allow"
    assert grants[0]["Action"] == "s3:GetObject"
    assert grants[0]["Resource"] == CONFIG_OBJECT
    assert "Condition" not in grants[0]
    # No other statement names the config/ prefix (nor a bucket-wide object wildcard).
    for statement in object_statements(role):
        for resource in as_list(statement.get("Resource", [])):
            assert "/config/" not in str(resource) and not str(resource).endswith(".Arn}/*'"), (role, resource)


@pytest.mark.parametrize(
    ("value", "accepted"),
    [
        ("", True),
        ("s3://my-bucket/hawkins/hawkins.toml", True),
        ("s3://hawkins-pipeline-123/config/hawkins.toml", True),
        ("s3://my-bucket", False),
        ("s3://my-bucket/", False),
        ("https://my-bucket/hawkins.toml", False),
        ("my-bucket/hawkins.toml", False),
        ("s3://My_Bucket/hawkins.toml", False),
    ],
)
def test_the_config_location_parameter_takes_what_the_functions_accept(value: str, accepted: bool):
    # The functions refuse at start what hawkins::config::ConfigLocation::parse refuses.
    pattern = TEMPLATE["Parameters"]["ConfigLocation"]["AllowedPattern"]
    assert (re.fullmatch(pattern, value) is not None) == accepted


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


def test_ingest_writes_sources_and_never_the_corpus():
    # The corpus is built by train once uploads settle; an upload writes only its own source.
    for statement in policy_statements("IngestRole"):
        if "s3:PutObject" in as_list(statement["Action"]):
            for resource in as_list(statement["Resource"]):
                assert re.search(r"/(processed|manifest|quarantine)/\*'$", str(resource)), resource


def test_the_training_role_reads_datasets_and_checkpoints_and_writes_only_output_and_checkpoints():
    for statement in policy_statements("SageMakerExecutionRole"):
        actions = set(as_list(statement["Action"]))
        resources = [str(r) for r in as_list(statement["Resource"])]
        # The model artifacts and predictions are the hosting role's: training jobs read neither.
        if "s3:GetObject" in actions:
            assert all(re.search(r"/(datasets|checkpoints)/\*", r) for r in resources), resources
        if "s3:PutObject" in actions:
            assert all(re.search(r"/(training-output|checkpoints)/\*", r) for r in resources), resources
        assert "iam:PassRole" not in actions


def function_role(binary: str) -> str:
    return stack.ref_name(next(f for f in FUNCTIONS if f.binary == binary).properties["Role"])


def passed_roles() -> dict[str, set[str]]:
    """The roles each role may pass (iam:PassRole), each statement checked to pass to SageMaker only."""
    passing: dict[str, set[str]] = {}
    for role_id in resources_of("AWS::IAM::Role"):
        for statement in policy_statements(role_id):
            if "iam:PassRole" not in as_list(statement["Action"]):
                continue
            assert as_list(statement["Action"]) == ["iam:PassRole"], f"{role_id}: PassRole in its own statement"
            assert statement.get("Condition") == {
                "StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}
            }, f"{role_id}: the role may be passed to SageMaker only"
            passing.setdefault(role_id, set()).update(stack.ref_name(r) for r in as_list(statement["Resource"]))
    return passing


def test_train_passes_only_the_training_role_and_lifecycle_only_the_hosting_role():
    # Train for its training and tuning jobs, lifecycle for the models of its endpoints and
    # transform jobs; no other role passes one.
    assert passed_roles() == {
        function_role("train"): {"SageMakerExecutionRole"},
        function_role("lifecycle"): {"SageMakerHostingRole"},
    }
    # And each function is told the role it may pass: the one its code hands to SageMaker.
    train = next(f for f in FUNCTIONS if f.binary == "train").properties["Environment"]["Variables"]
    assert train["HAWKINS_SAGEMAKER_ROLE_ARN"] == stack._Tag("GetAtt", "SageMakerExecutionRole.Arn")
    assert "HAWKINS_HOSTING_ROLE_ARN" not in train
    lifecycle = lifecycle_function().properties["Environment"]["Variables"]
    assert lifecycle["HAWKINS_HOSTING_ROLE_ARN"] == stack._Tag("GetAtt", "SageMakerHostingRole.Arn")


@pytest.mark.parametrize("role_id", ["SageMakerExecutionRole", "SageMakerHostingRole"])
def test_only_sagemaker_assumes_the_sagemaker_roles(role_id: str):
    statements = RESOURCES[role_id]["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert [(s["Effect"], s["Principal"], s["Action"]) for s in statements] == [
        ("Allow", {"Service": "sagemaker.amazonaws.com"}, "sts:AssumeRole")
    ]


def test_train_starts_only_tagged_jobs_in_its_own_account_and_region():
    allowed = {"sagemaker:CreateTrainingJob", "sagemaker:CreateHyperParameterTuningJob", "sagemaker:AddTags"}
    granted = set()
    for statement in policy_statements("TrainRole"):
        actions = {a for a in as_list(statement["Action"]) if a.startswith("sagemaker:")}
        if not actions:
            continue
        assert actions <= allowed, sorted(actions - allowed)
        granted |= actions
        for resource in as_list(statement["Resource"]):
            assert isinstance(resource, stack._Tag) and resource.name == "Sub", resource
            assert re.fullmatch(
                r"arn:\$\{AWS::Partition\}:sagemaker:\$\{AWS::Region\}:\$\{AWS::AccountId\}:"
                r"(training-job|hyper-parameter-tuning-job)/\*",
                resource.value,
            ), resource.value
        # The tag key every job carries (shared/src/training.rs, tags::PROJECT).
        assert statement.get("Condition") == {"Null": {"aws:RequestTag/hawkins:project": "false"}}
    assert granted == allowed, sorted(allowed - granted)


def test_train_builds_the_corpus_and_writes_only_it_its_state_and_alert_markers():
    for statement in object_statements("TrainRole"):
        actions = set(as_list(statement["Action"]))
        resources = [str(r) for r in as_list(statement["Resource"])]
        assert not actions & {"s3:DeleteObject", "s3:DeleteObjectVersion", "s3:*"}
        if "s3:GetObject" in actions:
            assert all(
                re.search(r"/(raw|processed|manifest|datasets|state/training|alerts/sent|requests/train)/\*", r)
                for r in resources
            ), resources
        if "s3:PutObject" in actions:
            # Never raw/: the corpus build repairs a source from its upload, never the upload.
            assert all(
                re.search(r"/(datasets|processed|manifest/sources|state/training|alerts/sent)/\*'$", r)
                for r in resources
            ), resources


def test_train_publishes_only_to_the_alert_topic():
    published = [s for s in policy_statements("TrainRole") if "sns:Publish" in as_list(s["Action"])]
    assert len(published) == 1
    assert published[0]["Resource"] == stack._Tag("Ref", "AlertTopic"), published


def test_the_token_secret_is_readable_only_when_the_parameter_names_one():
    statements = RESOURCES["SageMakerExecutionRole"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
    found = []
    for statement in statements:
        conditional = isinstance(statement, stack._Tag) and statement.name == "If"
        body = statement.value[1] if conditional else statement
        reads_secrets = any(a.startswith("secretsmanager:") for a in as_list(body["Action"]))
        decrypts_secrets = "kms:EncryptionContext:SecretARN" in body.get("Condition", {}).get("StringEquals", {})
        if not (reads_secrets or decrypts_secrets):
            continue
        assert conditional and statement.value[0] == "HasHuggingFaceTokenSecret", body["Sid"]
        assert statement.value[2] == stack._Tag("Ref", "AWS::NoValue"), body["Sid"]
        found.append(body)
    secret, key = sorted(found, key=lambda b: b["Sid"])
    assert secret["Action"] == "secretsmanager:GetSecretValue"
    assert secret["Resource"] == stack._Tag("Ref", "HuggingFaceTokenSecretArn")
    assert key["Action"] == "kms:Decrypt"
    assert key["Condition"]["StringEquals"] == {
        "kms:EncryptionContext:SecretARN": stack._Tag("Ref", "HuggingFaceTokenSecretArn")
    }
    assert key["Condition"]["StringLike"] == {"kms:ViaService": "secretsmanager.*.amazonaws.com"}
    assert TEMPLATE["Parameters"]["HuggingFaceTokenSecretArn"]["Default"] == ""


def test_the_quiet_period_reaches_train_only_when_set():
    train = next(f for f in FUNCTIONS if f.binary == "train")
    variable = train.properties["Environment"]["Variables"]["HAWKINS_QUIET_PERIOD_SECONDS"]
    assert variable == stack._Tag(
        "If", ["HasQuietPeriod", stack._Tag("Ref", "QuietPeriodSeconds"), stack._Tag("Ref", "AWS::NoValue")]
    ), "unset when the parameter is empty, so the function takes infra/hawkins.toml's value"


@pytest.mark.parametrize(
    ("value", "accepted"),
    [
        ("", True),
        ("1", True),
        ("300", True),
        ("9999", True),
        ("10000", True),
        ("79999", True),
        ("85999", True),
        ("86399", True),
        ("86400", True),
        ("0", False),
        ("030", False),
        ("86401", False),
        ("86500", False),
        ("87000", False),
        ("99999", False),
        ("100000", False),
        ("1.5", False),
        (" 300", False),
    ],
)
def test_the_quiet_period_parameter_takes_what_train_accepts(value: str, accepted: bool):
    # The function refuses anything outside 1..=86400 at start (hawkins::training::quiet_seconds).
    pattern = TEMPLATE["Parameters"]["QuietPeriodSeconds"]["AllowedPattern"]
    assert (re.fullmatch(pattern, value) is not None) == accepted


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


# --- costs ------------------------------------------------------------------------------------------

SCHEDULE_SAMPLE = json.loads((EVENTS / "schedule-costs.json").read_text(encoding="utf-8"))
REPORT_RS = (stack.ROOT / "shared" / "src" / "costs" / "report.rs").read_text(encoding="utf-8")
COSTS_MOD_RS = (stack.ROOT / "shared" / "src" / "costs" / "mod.rs").read_text(encoding="utf-8")


def costs_function() -> stack.TemplateFunction:
    return next(f for f in FUNCTIONS if f.binary == "costs")


def test_the_cost_schedule_invokes_the_costs_function_daily_by_default():
    costs = costs_function()
    targets = rules_targeting(costs.logical_id)
    assert len(targets) == 1, f"{costs.logical_id} is reached by exactly one rule, found {[t[0] for t in targets]}"
    rule_id, target = targets[0]
    assert rule_id in schedule_rules(), f"{rule_id} must be a schedule"
    rule = RESOURCES[rule_id]["Properties"]
    assert rule["ScheduleExpression"] == stack._Tag("Ref", "CostScheduleExpression")
    parameter = TEMPLATE["Parameters"]["CostScheduleExpression"]
    assert parameter["Default"] == "cron(0 6 * * ? *)"
    assert re.fullmatch(parameter["AllowedPattern"], parameter["Default"])
    assert re.fullmatch(parameter["AllowedPattern"], "rate(12 hours)")
    assert not re.fullmatch(parameter["AllowedPattern"], "daily")
    # The function takes the event's `time` as the run's "now" (hawkins::costs::scheduled_time):
    # the target must pass the scheduled event through untouched.
    assert not set(target) & {"Input", "InputPath", "InputTransformer"}, f"{rule_id}: the event must reach costs as is"
    assert target["RetryPolicy"]["MaximumRetryAttempts"] >= 1


def test_the_sample_schedule_event_is_what_a_schedule_sends():
    assert SCHEDULE_SAMPLE["source"] == "aws.events"
    assert SCHEDULE_SAMPLE["detail-type"] == "Scheduled Event"
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z", SCHEDULE_SAMPLE["time"])
    # Nothing of the bucket's reaches costs, and the schedule's events reach nothing else.
    assert not matches(ingest_pattern(), SCHEDULE_SAMPLE)
    assert not matches(train_pattern(), SCHEDULE_SAMPLE)


@pytest.mark.parametrize(
    ("variable", "condition", "parameter"),
    [
        ("HAWKINS_DAILY_BUDGET_USD", "HasDailyBudget", "DailyBudgetUsd"),
        ("HAWKINS_MONTHLY_BUDGET_USD", "HasMonthlyBudget", "MonthlyBudgetUsd"),
        ("HAWKINS_IDLE_HOURS", "HasIdleEndpointHours", "IdleEndpointHours"),
    ],
)
def test_the_budgets_reach_costs_only_when_set(variable: str, condition: str, parameter: str):
    # The names hawkins::costs::budgets reads; unset, the function uses [costs] of infra/hawkins.toml.
    assert f'"{variable}"' in COSTS_MOD_RS, f"hawkins::costs::budgets no longer reads {variable}"
    variables = costs_function().properties["Environment"]["Variables"]
    assert variables[variable] == stack._Tag(
        "If", [condition, stack._Tag("Ref", parameter), stack._Tag("Ref", "AWS::NoValue")]
    ), f"{variable}: unset when {parameter} is not set"
    test = TEMPLATE["Conditions"][condition]
    assert refers_to(test, parameter), condition
    # The function refuses 0 (budgets are dollars above 0): 0 must mean "not set".
    if TEMPLATE["Parameters"][parameter]["Type"] == "Number":
        assert test == stack._Tag("Not", [stack._Tag("Equals", [stack._Tag("Ref", parameter), 0])])
        assert TEMPLATE["Parameters"][parameter]["Default"] == 0


@pytest.mark.parametrize(
    ("value", "accepted"),
    [("", True), ("1", True), ("9", True), ("24", True), ("99", True), ("100", True), ("699", True),
     ("719", True), ("720", True), ("0", False), ("024", False), ("721", False), ("800", False),
     ("1000", False), ("1.5", False), (" 24", False)],
)
def test_the_idle_hours_parameter_takes_what_costs_accepts(value: str, accepted: bool):
    # hawkins::costs::budgets refuses anything outside 1..=MAX_IDLE_HOURS (720) at start.
    config = (stack.ROOT / "shared" / "src" / "config" / "costs.rs").read_text(encoding="utf-8")
    assert "pub const MAX_IDLE_HOURS: u32 = 720;" in config
    pattern = TEMPLATE["Parameters"]["IdleEndpointHours"]["AllowedPattern"]
    assert (re.fullmatch(pattern, value) is not None) == accepted


def test_costs_reads_the_ledger_and_writes_only_reports_and_alert_markers():
    role = stack.ref_name(costs_function().properties["Role"])
    reads, writes, wildcard, deletes = set(), set(), set(), set()
    for statement in object_statements(role):
        actions = set(as_list(statement["Action"]))
        resources = [str(r) for r in as_list(statement["Resource"])]
        assert not actions & {"s3:DeleteObjectVersion", "s3:*"}
        if "s3:DeleteObject" in actions:
            # The storage sweep: only the prefixes hawkins::storage expires, alone in their grant.
            assert actions == {"s3:DeleteObject"}, actions
            deletes |= {arn_text(r).removeprefix("${PipelineBucket.Arn}/") for r in as_list(statement["Resource"])}
            continue
        if [arn_text(r) for r in as_list(statement["Resource"])] == ["${PipelineBucket.Arn}/datasets/latest.json"]:
            # The sweep reads which dataset version is the latest, and nothing else of datasets/.
            assert actions == {"s3:GetObject"}, actions
            continue
        if "s3:GetObject" in actions:
            reads |= {m.group(1) for r in resources if (m := re.search(r"/((?:[a-z]+/)+)\*'?$", r))}
            assert all(re.search(r"/(ledger|reports/costs|alerts/sent)/\*", r) for r in resources), resources
        if "s3:PutObject" in actions:
            writes |= {m.group(1) for r in resources if (m := re.search(r"/((?:[a-z]+/)+)\*'?$", r))}
            assert all(re.search(r"/(reports/costs|alerts/sent)/\*", r) for r in resources), resources
        if "*" in resources:
            wildcard |= actions
    assert reads == {"ledger/", "reports/costs/", "alerts/sent/"}, reads
    assert writes == {"reports/costs/", "alerts/sent/"}, writes
    assert deletes == {"checkpoints/*", "training-output/*", "datasets/*/*"}, deletes
    # Only actions without resource-level permissions may name every resource.
    assert wildcard == {
        "cloudwatch:GetMetricStatistics",
        "pricing:GetProducts",
        "xray:PutTraceSegments",
        "xray:PutTelemetryRecords",
        "sagemaker:ListModelPackageGroups",
        "sagemaker:ListModelPackages",
    }, wildcard
    publish = [s for s in policy_statements(role) if "sns:Publish" in as_list(s["Action"])]
    assert [stack.ref_name(r) for s in publish for r in as_list(s["Resource"])] == ["AlertTopic"]


def test_the_cost_panels_read_the_metrics_costs_emits():
    namespace = re.search(r'pub const NAMESPACE: &str = "([^"]+)";', REPORT_RS).group(1)
    emitted = set(re.findall(r'\{"Name": "([A-Za-z0-9]+)", "Unit"', REPORT_RS))
    dimensions = re.search(r'"Dimensions": \[\[([^\]]*)\]\]', REPORT_RS).group(1)
    dimensions = ",".join(d.strip().strip('"') for d in dimensions.split(","))
    assert emitted >= {"CostLast24hUSD", "CostMonthToDateUSD", "SpotSavingsUSD"}, emitted
    body = RESOURCES["Dashboard"]["Properties"]["DashboardBody"].value[0]
    searches = re.findall(r"SEARCH\('\{" + re.escape(namespace) + r",([^}]*)\}([^']*)'", body)
    assert searches, f"no SEARCH over {namespace}"
    shown = set()
    for schema, filter_ in searches:
        assert schema == dimensions, f"SEARCH schema {schema}, emitted {dimensions}"
        names = set(re.findall(r'MetricName=\\"([A-Za-z0-9]+)\\"', filter_))
        assert len(names) == 1, f"each cost panel shows one metric (they are different quantities): {filter_}"
        shown |= names
    assert shown == emitted, f"panels show {sorted(shown)}, costs emits {sorted(emitted)}"


# --- lifecycle --------------------------------------------------------------------------------------

LIFECYCLE_SAMPLES = sorted(EVENTS.glob("sagemaker-*.json"))
CONFIG = tomllib.loads((stack.INFRA / "hawkins.toml").read_text(encoding="utf-8"))
# The prefix and tag value of everything the pipeline creates (default "hawkins", shared/src/config/pipeline.rs).
PROJECT = CONFIG.get("pipeline", {}).get("project_tag", "hawkins")
LIFECYCLE_EVENTS_RS = (stack.ROOT / "shared" / "src" / "lifecycle" / "events.rs").read_text(encoding="utf-8")
# The lifecycle's decisions, one module per event (names, alarms, transform specs), without its tests.
LIFECYCLE_PLAN_RS = "\n".join(
    path.read_text(encoding="utf-8")
    for path in sorted((stack.ROOT / "shared" / "src" / "lifecycle").glob("*.rs"))
    if not path.name.endswith("tests.rs")
)
TRAINING_RS = (stack.ROOT / "shared" / "src" / "training.rs").read_text(encoding="utf-8")
PROJECT_TAG_KEY = re.search(r'pub const PROJECT: &str = "([^"]+)";', TRAINING_RS).group(1)
# The detail-types hawkins::lifecycle::events parses; any other is an error there.
LIFECYCLE_DETAIL_TYPES = set(re.findall(r'pub const [A-Z_]+: &str = "(SageMaker [^"]+)";', LIFECYCLE_EVENTS_RS))


def lifecycle_function() -> stack.TemplateFunction:
    return next(f for f in FUNCTIONS if f.binary == "lifecycle")


def lifecycle_role() -> str:
    return stack.ref_name(lifecycle_function().properties["Role"])


def lifecycle_patterns() -> dict[str, dict]:
    """The pattern of every rule that invokes lifecycle with SageMaker's events, by rule (the A/B
    check's schedule has none)."""
    return {
        rule_id: stack.resolve(RESOURCES[rule_id]["Properties"]["EventPattern"], REFS)
        for rule_id, _ in rules_targeting(lifecycle_function().logical_id)
        if "EventPattern" in RESOURCES[rule_id]["Properties"]
    }


def lifecycle_rules_matching(event: dict) -> list[str]:
    return sorted(rule_id for rule_id, pattern in lifecycle_patterns().items() if matches(pattern, event))


def lifecycle_sample(name: str) -> dict:
    return json.loads((EVENTS / name).read_text(encoding="utf-8"))


def pattern_of(detail_type: str) -> dict:
    found = [p for p in lifecycle_patterns().values() if detail_type in p["detail-type"]]
    assert len(found) == 1, f"one lifecycle rule for '{detail_type}', found {len(found)}"
    return found[0]


def arn_text(resource) -> str:
    """The text of a `!Sub` ARN (or the resource as written)."""
    if isinstance(resource, stack._Tag) and resource.name == "Sub" and isinstance(resource.value, str):
        return resource.value
    return str(resource)


def test_the_samples_cover_every_sagemaker_event_lifecycle_handles():
    assert len(LIFECYCLE_DETAIL_TYPES) == 5, LIFECYCLE_DETAIL_TYPES
    kinds = {lifecycle_sample(p.name)["detail-type"] for p in LIFECYCLE_SAMPLES}
    assert kinds == LIFECYCLE_DETAIL_TYPES, f"events/sagemaker-*.json cover {sorted(kinds)}"


def test_the_lifecycle_rules_take_exactly_the_sagemaker_events_it_handles():
    patterns = lifecycle_patterns()
    assert patterns, "no rule invokes lifecycle"
    kinds = []
    for rule_id, pattern in patterns.items():
        if pattern["source"] == ["aws.s3"]:
            # The one bucket rule: a person's deploy requests (hawkins deploy, hawkins rollback).
            assert pattern["detail-type"] == ["Object Created"], rule_id
            assert pattern["detail"]["object"] == {"key": [{"prefix": "requests/deploy/"}]}, rule_id
            continue
        assert pattern["source"] == ["aws.sagemaker"], rule_id
        assert set(pattern) == {"source", "detail-type", "detail"}, f"{rule_id}: every rule narrows the detail"
        kinds += pattern["detail-type"]
    # Each kind through exactly one rule: an event must not invoke lifecycle twice.
    assert sorted(kinds) == sorted(LIFECYCLE_DETAIL_TYPES), kinds


@pytest.mark.parametrize("path", LIFECYCLE_SAMPLES, ids=lambda p: p.name)
def test_every_sagemaker_sample_reaches_lifecycle_through_one_rule(path):
    event = lifecycle_sample(path.name)
    assert len(lifecycle_rules_matching(event)) == 1, lifecycle_rules_matching(event)
    assert not matches(ingest_pattern(), event)
    assert not matches(train_pattern(), event)


@pytest.mark.parametrize(
    "detail_type",
    [
        "SageMaker Training Job State Change",
        "SageMaker HyperParameter Tuning Job State Change",
        "SageMaker Transform Job State Change",
    ],
)
def test_the_job_rule_takes_the_project_tag_of_the_config(detail_type: str):
    # infra/hawkins.toml's project_tag is what train tags every training and tuning job with, and
    # lifecycle every transform job (tags::PROJECT); a rule on another value would silently drop
    # every job event.
    assert detail_type in LIFECYCLE_DETAIL_TYPES
    pattern = pattern_of(detail_type)
    assert pattern["detail"] == {"Tags": {PROJECT_TAG_KEY: [PROJECT]}}, pattern["detail"]


def test_the_package_and_endpoint_rules_take_the_project_prefix_of_the_config():
    # Groups and endpoints are named <project>-<model> (hawkins::lifecycle::plan).
    assert LIFECYCLE_PLAN_RS.count('format!("{project}-{model}")') == 2
    package = pattern_of("SageMaker Model Package State Change")
    assert package["detail"] == {"ModelPackageGroupName": [{"prefix": f"{PROJECT}-"}]}, package["detail"]
    endpoint = pattern_of("SageMaker Endpoint State Change")
    assert endpoint["detail"] == {"EndpointName": [{"prefix": f"{PROJECT}-"}]}, endpoint["detail"]


def without_project_tag(event: dict) -> dict:
    del event["detail"]["Tags"][PROJECT_TAG_KEY]
    return event


def with_project(value: str):
    def change(event: dict) -> dict:
        event["detail"]["Tags"][PROJECT_TAG_KEY] = value
        return event

    return change


def without_tags(event: dict) -> dict:
    del event["detail"]["Tags"]
    return event


def with_detail(field: str, value: str):
    def change(event: dict) -> dict:
        event["detail"][field] = value
        return event

    return change


def with_envelope(field: str, value: str):
    def change(event: dict) -> dict:
        event[field] = value
        return event

    return change


@pytest.mark.parametrize(
    ("sample", "change"),
    [
        ("sagemaker-training-completed.json", without_project_tag),
        ("sagemaker-training-completed.json", without_tags),
        ("sagemaker-training-completed.json", with_project("someone-else")),
        ("sagemaker-training-completed.json", with_project("Hawkins")),
        ("sagemaker-training-failed.json", with_project("")),
        ("sagemaker-training-completed.json", with_envelope("source", "custom.sagemaker")),
        ("sagemaker-training-completed.json", with_envelope("detail-type", "SageMaker Processing Job State Change")),
        ("sagemaker-tuning-completed.json", without_tags),
        ("sagemaker-tuning-completed.json", with_project("someone-else")),
        ("sagemaker-transform-completed.json", without_project_tag),
        ("sagemaker-transform-completed.json", with_project("someone-else")),
        ("sagemaker-package-approved.json", with_detail("ModelPackageGroupName", "someone-elses-group")),
        ("sagemaker-package-approved.json", with_detail("ModelPackageGroupName", "hawkinschatbot-eleven")),
        ("sagemaker-package-approved.json", with_detail("ModelPackageGroupName", "xhawkins-chatbot-eleven")),
        ("sagemaker-package-approved.json", with_envelope("source", "custom.sagemaker")),
        ("sagemaker-package-approved.json", with_envelope("detail-type", "SageMaker Model Package Group State Change")),
        ("sagemaker-endpoint-in-service.json", with_detail("EndpointName", "someone-elses-endpoint")),
        ("sagemaker-endpoint-in-service.json", with_detail("EndpointName", "hawkins")),
        ("sagemaker-endpoint-failed.json", with_detail("EndpointName", "HAWKINS-chatbot-eleven")),
        ("sagemaker-endpoint-in-service.json", with_envelope("source", "custom.sagemaker")),
        ("sagemaker-endpoint-in-service.json", with_envelope("detail-type", "SageMaker Endpoint Deployment State Change")),
    ],
)
def test_other_sagemaker_events_do_not_reach_lifecycle(sample: str, change):
    event = change(lifecycle_sample(sample))
    assert lifecycle_rules_matching(event) == []


def test_a_tagged_job_of_any_model_reaches_lifecycle():
    # The function itself skips jobs of models the config does not name (it logs why).
    event = lifecycle_sample("sagemaker-training-in-progress.json")
    event["detail"]["Tags"] = {PROJECT_TAG_KEY: PROJECT}
    assert len(lifecycle_rules_matching(event)) == 1


def test_bucket_and_schedule_events_do_not_reach_lifecycle():
    for event in (SAMPLE, object_created("datasets/latest.json"), SCHEDULE_SAMPLE):
        assert lifecycle_rules_matching(event) == []


def test_the_ab_check_invokes_lifecycle_hourly_with_the_event_it_handles():
    schedules = [r for r, _ in rules_targeting(lifecycle_function().logical_id) if r in schedule_rules()]
    assert len(schedules) == 1, schedules
    rule = RESOURCES[schedules[0]]["Properties"]
    assert rule["ScheduleExpression"] == "rate(1 hour)"
    # What a schedule sends is what lifecycle reads as the A/B check (events::SCHEDULE).
    assert 'pub const SCHEDULE: &str = "Scheduled Event";' in LIFECYCLE_EVENTS_RS
    sample = lifecycle_sample("schedule-ab-check.json")
    assert sample["detail-type"] == SCHEDULE_SAMPLE["detail-type"] == "Scheduled Event"
    assert sample["source"] == "aws.events"
    assert lifecycle_rules_matching(sample) == []


def test_lifecycle_knows_its_hosting_role():
    variables = lifecycle_function().properties["Environment"]["Variables"]
    assert variables["HAWKINS_HOSTING_ROLE_ARN"] == stack._Tag("GetAtt", "SageMakerHostingRole.Arn")
    # Read by functions/lifecycle: the models' role comes from there, not from the training role.
    main = (stack.ROOT / "functions" / "lifecycle" / "src" / "main.rs").read_text(encoding="utf-8")
    assert 'required_env("HAWKINS_HOSTING_ROLE_ARN")' in main
    assert stack.ref_name(variables["HAWKINS_BUCKET"]) == "PipelineBucket"
    assert stack.ref_name(variables["HAWKINS_ALERT_TOPIC_ARN"]) == "AlertTopic"


def test_lifecycle_writes_only_the_ledger_its_state_alert_markers_and_metrics():
    reads, writes = set(), set()
    allowed = {
        "ledger/training/*",
        "ledger/transforms/*",
        "ledger/endpoints/*",
        "state/lifecycle/*",
        "state/requests/deploy/*",
        "alerts/sent/*",
        "models/*/metrics.json",
        "processed/themes/*",
    }
    # The theme reports are made from a theme transform's output and the dataset it scored,
    # which lifecycle reads and never writes; a person's deploy requests likewise.
    read_only = {"predictions/*", "datasets/*/themes/*", "requests/deploy/*"}
    for statement in object_statements(lifecycle_role()):
        actions = set(as_list(statement["Action"]))
        assert not actions & {"s3:DeleteObject", "s3:DeleteObjectVersion", "s3:*"}, actions
        s3_objects = {a for a in actions if a.startswith("s3:") and a != "s3:ListBucket"}
        if not s3_objects:
            continue
        assert s3_objects <= {"s3:GetObject", "s3:PutObject"}, s3_objects
        keys = set()
        for resource in as_list(statement["Resource"]):
            text = arn_text(resource)
            assert text.startswith("${PipelineBucket.Arn}/"), text
            keys.add(text.removeprefix("${PipelineBucket.Arn}/"))
        if "s3:GetObject" in actions:
            reads |= keys
        if "s3:PutObject" in actions:
            writes |= keys
    assert writes == allowed, sorted(writes)
    # And the chat's ratings, which the A/B check weighs: read, never written.
    assert reads == allowed | read_only | {"feedback/*"}, sorted(reads)
    assert not any(k.startswith(("raw/", "datasets/", "training-output/", "predictions/")) for k in writes)


def test_lifecycle_calls_only_the_sagemaker_actions_it_needs_on_hawkins_resources():
    allowed = {
        "sagemaker:DescribeModelPackageGroup",
        "sagemaker:CreateModelPackageGroup",
        "sagemaker:ListModelPackages",
        "sagemaker:DescribeModelPackage",
        "sagemaker:CreateModelPackage",
        "sagemaker:UpdateModelPackage",
        "sagemaker:CreateModel",
        "sagemaker:CreateEndpointConfig",
        "sagemaker:CreateEndpoint",
        "sagemaker:CreateTransformJob",
        "sagemaker:AddTags",
        "sagemaker:UpdateEndpoint",
        "sagemaker:DescribeEndpoint",
        "sagemaker:DescribeEndpointConfig",
        "sagemaker:UpdateEndpointWeightsAndCapacities",
    }
    arn = (
        r"arn:\$\{AWS::Partition\}:sagemaker:\$\{AWS::Region\}:\$\{AWS::AccountId\}:"
        r"(model-package-group|model-package|model|endpoint-config|endpoint|transform-job)/" + re.escape(PROJECT) + r"-\*"
    )
    granted = set()
    for statement in policy_statements(lifecycle_role()):
        actions = {a for a in as_list(statement["Action"]) if a.startswith("sagemaker:")}
        if not actions:
            continue
        assert all("*" not in a for a in actions), actions
        assert actions <= allowed, sorted(actions - allowed)
        granted |= actions
        resources = as_list(statement["Resource"])
        if resources == ["*"]:
            # List calls have no resource-level permissions.
            assert actions == {"sagemaker:ListModelPackages"}, actions
            continue
        for resource in resources:
            assert re.fullmatch(arn, arn_text(resource)), arn_text(resource)
        creates = {a for a in actions if a.startswith("sagemaker:Create") and "ModelPackage" not in a} | (
            actions & {"sagemaker:AddTags"}
        )
        if creates:
            # Models, endpoint configs, endpoints and transform jobs carry the project tag
            # (plan::plan_deploy).
            assert statement.get("Condition") == {"Null": {f"aws:RequestTag/{PROJECT_TAG_KEY}": "false"}}, creates
    assert granted == allowed, sorted(allowed - granted)


def test_lifecycle_puts_only_its_endpoint_alarms_and_those_of_their_scaling():
    # hawkins::lifecycle::plan::alarms names them <endpoint>-<variant>-5xx and -latency.
    assert 'format!("{endpoint}-{variant}-5xx")' in LIFECYCLE_PLAN_RS
    assert 'format!("{endpoint}-{variant}-latency")' in LIFECYCLE_PLAN_RS
    prefix = r"arn:\$\{AWS::Partition\}:cloudwatch:\$\{AWS::Region\}:\$\{AWS::AccountId\}:alarm:"
    alarms = set()
    for statement in policy_statements(lifecycle_role()):
        actions = {a for a in as_list(statement["Action"]) if a.startswith("cloudwatch:")}
        if not actions or actions == {"cloudwatch:GetMetricStatistics"}:
            # Reading the variants' metrics (the A/B check) writes no alarm.
            continue
        assert actions <= {"cloudwatch:PutMetricAlarm", "cloudwatch:DescribeAlarms", "cloudwatch:DeleteAlarms"}, actions
        for resource in as_list(statement["Resource"]):
            match = re.fullmatch(prefix + r"(.+)", arn_text(resource))
            assert match, arn_text(resource)
            alarms.add(match.group(1))
            if "cloudwatch:DeleteAlarms" in actions:
                assert match.group(1).startswith("TargetTracking-"), "only scaling's own alarms are deleted"
    assert alarms == {f"{PROJECT}-*-5xx", f"{PROJECT}-*-latency", f"TargetTracking-endpoint/{PROJECT}-*"}, alarms


def test_lifecycle_passes_only_the_hosting_role_and_creates_only_the_scaling_role():
    iam = [s for s in policy_statements(lifecycle_role()) if any(a.startswith("iam:") for a in as_list(s["Action"]))]
    assert sorted(a for s in iam for a in as_list(s["Action"])) == ["iam:CreateServiceLinkedRole", "iam:PassRole"]
    passing = next(s for s in iam if s["Action"] == "iam:PassRole")
    assert passing["Resource"] == stack._Tag("GetAtt", "SageMakerHostingRole.Arn")
    linked = next(s for s in iam if s["Action"] == "iam:CreateServiceLinkedRole")
    service = "sagemaker.application-autoscaling.amazonaws.com"
    assert linked["Condition"] == {"StringEquals": {"iam:AWSServiceName": service}}
    assert arn_text(linked["Resource"]).endswith(
        f":role/aws-service-role/{service}/AWSServiceRoleForApplicationAutoScaling_SageMakerEndpoint"
    )


def test_lifecycle_names_every_resource_iam_lets_it_name():
    wildcard = set()
    for statement in policy_statements(lifecycle_role()):
        if "*" in as_list(statement["Resource"]):
            wildcard |= set(as_list(statement["Action"]))
    # List calls, metric reads, scalable targets (no ARN before registration) and traces have no
    # resource.
    assert wildcard == {
        "sagemaker:ListModelPackages",
        "cloudwatch:GetMetricStatistics",
        "application-autoscaling:RegisterScalableTarget",
        "application-autoscaling:DeregisterScalableTarget",
        "application-autoscaling:PutScalingPolicy",
        "xray:PutTraceSegments",
        "xray:PutTelemetryRecords",
    }, wildcard
    publish = [s for s in policy_statements(lifecycle_role()) if "sns:Publish" in as_list(s["Action"])]
    assert [stack.ref_name(r) for s in publish for r in as_list(s["Resource"])] == ["AlertTopic"]


def test_the_endpoint_alarms_can_mail_the_encrypted_alert_topic():
    # The alarms lifecycle puts notify the alert topic (EndpointGuards' alarm actions), as
    # CloudWatch, which must be able to use the topic's key ...
    statements = RESOURCES["PipelineKey"]["Properties"]["KeyPolicy"]["Statement"]
    cloudwatch = [s for s in statements if s["Principal"] == {"Service": "cloudwatch.amazonaws.com"}]
    assert cloudwatch and {"kms:Decrypt", "kms:GenerateDataKey*"} <= set(as_list(cloudwatch[0]["Action"]))
    assert "Condition" not in cloudwatch[0], "a condition the alarm's request lacks would drop every alarm mail"
    # ... and publish: SNS's default policy allows it; a topic policy, if one is added, must too.
    for policy in resources_of("AWS::SNS::TopicPolicy").values():
        if any(stack.ref_name(t) == "AlertTopic" for t in policy["Properties"]["Topics"]):
            assert any(
                s["Effect"] == "Allow"
                and s.get("Principal") == {"Service": "cloudwatch.amazonaws.com"}
                and "sns:Publish" in as_list(s["Action"])
                for s in policy["Properties"]["PolicyDocument"]["Statement"]
            ), "the alert topic's policy must let CloudWatch alarms publish"


def hosting_grants() -> list[tuple[set[str], set[str]]]:
    """(actions, resources as text) of each statement of the hosting role."""
    return [
        (set(as_list(statement["Action"])), {arn_text(r) for r in as_list(statement["Resource"])})
        for statement in policy_statements("SageMakerHostingRole")
    ]


def test_the_hosting_role_hosts_what_lifecycle_deploys():
    # Jobs write their model.tar.gz under training-output/ (hawkins::training), which the
    # endpoints and transform jobs of registered packages load with the hosting role; a transform
    # job reads its corpus's dataset as an S3 prefix under datasets/ and writes under
    # predictions/; a blue/green update reads the rollback alarms with it.
    assert 'output_s3_uri: format!("s3://{bucket}/training-output/{}/"' in TRAINING_RS
    assert 'input_s3_uri: format!("s3://{bucket}/{}", model.dataset_key(&corpus))' in LIFECYCLE_PLAN_RS
    assert 'output_s3_uri: format!("s3://{bucket}/predictions/{}/{corpus}/"' in LIFECYCLE_PLAN_RS
    adapter = (stack.ROOT / "shared" / "src" / "aws" / "lifecycle.rs").read_text(encoding="utf-8")
    assert ".s3_data_type(S3DataType::S3Prefix)" in adapter
    reads, writes, described, pulled, logs = set(), set(), set(), set(), set()
    listed = []
    for actions, resources in hosting_grants():
        if "s3:GetObject" in actions:
            reads |= resources
        if "s3:PutObject" in actions:
            writes |= resources
        if "cloudwatch:DescribeAlarms" in actions:
            described |= resources
        if "ecr:BatchGetImage" in actions:
            pulled |= resources
        if "logs:PutLogEvents" in actions:
            logs |= resources
    for statement in policy_statements("SageMakerHostingRole"):
        if "s3:ListBucket" in as_list(statement["Action"]):
            listed.append(statement["Condition"])
    assert reads == {"${PipelineBucket.Arn}/training-output/*", "${PipelineBucket.Arn}/datasets/*"}, reads
    assert writes == {"${PipelineBucket.Arn}/predictions/*"}, writes
    assert listed == [{"StringLike": {"s3:prefix": "datasets/*"}}], listed
    assert {r.rsplit(":alarm:", 1)[1] for r in described} == {f"{PROJECT}-*-5xx", f"{PROJECT}-*-latency"}, described
    assert {r.rsplit(":repository/", 1)[1] for r in pulled} == {f"{PROJECT}-*"}, pulled
    assert {r.rsplit(":log-group:", 1)[1] for r in logs} == {"/aws/sagemaker/*"}, logs


def test_the_hosting_role_never_writes_training_output_or_checkpoints():
    # A serving container runs the model's own code: it must not be able to rewrite the artifact
    # a later deployment loads, nor the checkpoints a training job resumes from.
    for actions, resources in hosting_grants():
        s3 = {a for a in actions if a.startswith("s3:")}
        assert not any("*" in a for a in s3), s3
        writes = s3 - {"s3:GetObject", "s3:ListBucket"}
        if writes:
            assert writes <= {"s3:PutObject", "s3:AbortMultipartUpload"}, writes
            assert resources == {"${PipelineBucket.Arn}/predictions/*"}, resources


def test_the_hosting_role_never_reads_the_token_secret():
    role = RESOURCES["SageMakerHostingRole"]
    assert not refers_to(role, "HuggingFaceTokenSecretArn")
    for actions, _resources in hosting_grants():
        assert not any(a.startswith("secretsmanager:") for a in actions), actions
    # The pipeline key, through S3 only: never through Secrets Manager, nor any other key.
    for statement in policy_statements("SageMakerHostingRole"):
        if any(a.startswith("kms:") for a in as_list(statement["Action"])):
            assert stack.ref_name(statement["Resource"]) == "PipelineKey", statement["Resource"]
            through_s3 = stack._Tag("Sub", "s3.${AWS::Region}.amazonaws.com")
            assert statement["Condition"] == {"StringEquals": {"kms:ViaService": through_s3}}, statement
    # Nor anything else the training jobs need (network interfaces, the training key).
    assert not any(refers_to(role, p) for p in ("TrainingSubnetIds", "TrainingKmsKeyArn"))


def rules_with_dead_letter_queues() -> list[str]:
    return sorted(
        rule_id
        for rule_id, rule in stack.rules(TEMPLATE).items()
        if any("DeadLetterConfig" in target for target in rule["Properties"].get("Targets", []))
    )


def test_the_rules_into_the_functions_have_dead_letter_queues():
    # Each rule that invokes a function or feeds its queue has one (the event paths above), so the
    # alarms below are checked for each of them, not for an empty list.
    targets = {f.logical_id for f in FUNCTIONS}
    targets |= {stack.ref_name(m["EventSourceArn"]) for t in set(targets) for _, m in mappings_into(t)}
    feeding = {rule_id for target in targets for rule_id, _ in rules_targeting(target)}
    assert feeding and feeding <= set(rules_with_dead_letter_queues()), sorted(feeding)


@pytest.mark.parametrize("rule_id", rules_with_dead_letter_queues())
@pytest.mark.parametrize("metric", ["FailedInvocations", "InvocationsFailedToBeSentToDlq"])
def test_every_rule_with_a_dead_letter_queue_alarms_on_its_delivery_failures(rule_id: str, metric: str):
    alarms = [
        (alarm_id, a["Properties"])
        for alarm_id, a in resources_of("AWS::CloudWatch::Alarm").items()
        if a["Properties"].get("Namespace") == "AWS/Events" and a["Properties"].get("MetricName") == metric
        and any(refers_to(d.get("Value"), rule_id) for d in a["Properties"].get("Dimensions", []))
    ]
    assert len(alarms) == 1, f"{rule_id}: {len(alarms)} alarms on {metric}"
    alarm_id, alarm = alarms[0]
    # A rule of the default bus: its metrics carry RuleName only, the name being the rule's Ref.
    assert alarm["Dimensions"] == [{"Name": "RuleName", "Value": stack._Tag("Ref", rule_id)}], alarm_id
    assert [stack.ref_name(a) for a in alarm["AlarmActions"]] == ["AlertTopic"], alarm_id
    assert alarm["Statistic"] == "Sum" and alarm["Threshold"] == 1, alarm_id
    assert alarm["ComparisonOperator"] == "GreaterThanOrEqualToThreshold", alarm_id
    # EventBridge sends these metrics only when they are not zero: no data is the good case.
    assert alarm["TreatMissingData"] == "notBreaching", alarm_id
    assert rule_id in alarm["AlarmDescription"], alarm_id


# --- web ----------------------------------------------------------------------------------------------

WEB_URL = stack._Tag("Sub", "${WebHttpApi.ApiEndpoint}/")


def web_function() -> stack.TemplateFunction:
    return next(f for f in FUNCTIONS if f.binary == "web")


def web_role() -> str:
    return stack.ref_name(web_function().properties["Role"])


def web_variables() -> dict:
    return web_function().properties["Environment"]["Variables"]


def single(kind: str) -> tuple[str, dict]:
    found = resources_of(kind)
    assert len(found) == 1, f"one {kind}, found {sorted(found)}"
    logical_id, resource = next(iter(found.items()))
    return logical_id, resource["Properties"]


def test_the_web_app_is_reached_only_through_its_http_api_synchronously():
    web = web_function().logical_id
    routes = http_routes_into(web)
    assert [r for r, _ in routes] == list(resources_of("AWS::ApiGatewayV2::Route")), routes
    assert len(routes) == 1 and routes[0][1]["RouteKey"] == "$default", routes
    api = stack.ref_name(routes[0][1]["ApiId"])
    assert RESOURCES[api]["Properties"]["ProtocolType"] == "HTTP"
    integration = next(iter(resources_of("AWS::ApiGatewayV2::Integration").values()))["Properties"]
    # Lambda proxy, the 2.0 payload lambda_http reads (the one of function URLs, too), and the
    # function's timeout within the API's.
    assert integration["IntegrationType"] == "AWS_PROXY" and integration["PayloadFormatVersion"] == "2.0"
    assert web_function().properties["Timeout"] * 1000 <= integration["TimeoutInMillis"] <= 30000
    # Throttled, and every request in the access log.
    _, stage = single("AWS::ApiGatewayV2::Stage")
    assert stack.ref_name(stage["ApiId"]) == api and stage["StageName"] == "$default" and stage["AutoDeploy"]
    throttling = stage["DefaultRouteSettings"]
    assert 0 < throttling["ThrottlingRateLimit"] <= throttling["ThrottlingBurstLimit"], throttling
    logs = RESOURCES[stack.ref_name(stage["AccessLogSettings"]["DestinationArn"])]
    assert logs["Type"] == "AWS::Logs::LogGroup" and {"RetentionInDays", "KmsKeyId"} <= set(logs["Properties"])
    assert "$context.identity.sourceIp" in stage["AccessLogSettings"]["Format"]
    # Only this API may invoke the function; no function URL is a second, unthrottled way in.
    permissions = [
        p["Properties"]
        for p in resources_of("AWS::Lambda::Permission").values()
        if stack.ref_name(p["Properties"]["FunctionName"]) == web
    ]
    assert len(permissions) == 1, permissions
    assert permissions[0]["Principal"] == "apigateway.amazonaws.com"
    assert arn_text(permissions[0]["SourceArn"]).endswith(":${WebHttpApi}/*") and api == "WebHttpApi"
    assert not resources_of("AWS::Lambda::Url")
    assert not any("FunctionUrlConfig" in f.properties for f in FUNCTIONS)
    # Synchronous only: no asynchronous configuration, rule or queue.
    assert not any(
        stack.ref_name(c["Properties"]["FunctionName"]) == web
        for c in resources_of("AWS::Lambda::EventInvokeConfig").values()
    )


def unauthenticated_ways_in() -> list[tuple[str, str]]:
    """(what, function) for every way to invoke a function without AWS credentials: HTTP API
    routes without an authorizer and function URLs with AuthType NONE."""
    found = []
    for route_id, route in resources_of("AWS::ApiGatewayV2::Route").items():
        if route["Properties"].get("AuthorizationType", "NONE") == "NONE":
            found += [(route_id, f.logical_id) for f in FUNCTIONS if any(r == route_id for r, _ in http_routes_into(f.logical_id))]
    for url_id, url in resources_of("AWS::Lambda::Url").items():
        if url["Properties"]["AuthType"] == "NONE":
            found.append((url_id, stack.ref_name(url["Properties"]["TargetFunctionArn"])))
    for function in FUNCTIONS:
        if function.properties.get("FunctionUrlConfig", {}).get("AuthType") == "NONE":
            found.append((f"{function.logical_id}.FunctionUrlConfig", function.logical_id))
    return found


def test_an_open_way_in_reaches_only_a_function_that_verifies_the_tokens():
    # The function verifies every request's ID token against the pool's keys and issuer and the
    # client as audience, and cannot start without them; anything else open to the internet
    # would answer anyone.
    open_ways = unauthenticated_ways_in()
    assert open_ways == [("WebHttpApiRoute", web_function().logical_id)], open_ways
    pool_id, _ = single("AWS::Cognito::UserPool")
    client_id, client = single("AWS::Cognito::UserPoolClient")
    assert stack.ref_name(client["UserPoolId"]) == pool_id
    for _, function_id in open_ways:
        variables = RESOURCES[function_id]["Properties"]["Environment"]["Variables"]
        assert variables.get("HAWKINS_USER_POOL_ID") == stack._Tag("Ref", pool_id), function_id
        assert variables.get("HAWKINS_USER_POOL_CLIENT_ID") == stack._Tag("Ref", client_id), function_id


def test_the_web_function_is_told_its_sign_in_and_its_approvers():
    variables = web_variables()
    assert stack.ref_name(variables["HAWKINS_BUCKET"]) == "PipelineBucket"
    assert stack.ref_name(variables["HAWKINS_ALERT_TOPIC_ARN"]) == "AlertTopic"
    assert variables["HAWKINS_AUTH_DOMAIN"] == stack._Tag(
        "Sub", "https://${WebUserPoolDomain}.auth.${AWS::Region}.amazoncognito.com"
    )
    assert variables["HAWKINS_WEB_URL"] == WEB_URL
    group_id = stack.ref_name(variables["HAWKINS_APPROVERS_GROUP"])
    assert RESOURCES[group_id]["Properties"]["GroupName"] == "approvers"


def web_object_grants() -> list[tuple[set[str], set[str]]]:
    """(actions, keys under the pipeline bucket) of each S3 object statement of the web role."""
    grants = []
    for statement in object_statements(web_role()):
        actions = set(as_list(statement["Action"]))
        if not any(a.startswith("s3:") for a in actions) or actions == {"s3:ListBucket"}:
            continue
        keys = set()
        for resource in as_list(statement["Resource"]):
            text = arn_text(resource)
            assert text.startswith("${PipelineBucket.Arn}/"), text
            keys.add(text.removeprefix("${PipelineBucket.Arn}/"))
        grants.append((actions, keys))
    return grants


def test_the_web_role_writes_only_uploads_and_ratings_and_never_deletes():
    writes = set()
    for statement in policy_statements(web_role()):
        actions = {a for a in as_list(statement["Action"]) if a.startswith("s3:")}
        assert not any("*" in a or "Delete" in a for a in actions), actions
    for actions, keys in web_object_grants():
        assert actions <= {"s3:GetObject", "s3:PutObject"}, actions
        if "s3:PutObject" in actions:
            # Alone in its statement: what a presigned upload URL can do is exactly this.
            assert actions == {"s3:PutObject"}, actions
            writes |= keys
    assert writes == {"raw/*", "feedback/*"}, writes


def test_the_web_role_reads_what_the_pages_show_and_not_the_data_itself():
    reads = set().union(*(keys for actions, keys in web_object_grants() if "s3:GetObject" in actions))
    assert reads == {
        "datasets/latest.json",
        "datasets/*/manifest.json",
        "manifest/sources/*",
        "manifest/pending.json",
        "quarantine/*.reason.json",
        "processed/network/*",
        "processed/themes/*",
        "reports/costs/*",
        "ledger/training/*",
        "ledger/endpoints/*",
        "state/lifecycle/*",
        "feedback/*",
    }, sorted(reads)
    # Never the uploads, the datasets, the models or the predictions.
    assert not any(k.startswith(("raw/", "training-output/", "checkpoints/", "predictions/")) for k in reads)


def test_the_web_role_asks_only_project_endpoints_and_reviews_only_project_packages():
    allowed = {
        "sagemaker:InvokeEndpoint": {"endpoint"},
        "sagemaker:DescribeEndpoint": {"endpoint", "endpoint-config"},
        "sagemaker:DescribeEndpointConfig": {"endpoint", "endpoint-config"},
        "sagemaker:DescribeModelPackage": {"model-package"},
        "sagemaker:UpdateModelPackage": {"model-package"},
    }
    listing = {"sagemaker:ListModelPackages", "sagemaker:ListTrainingJobs", "sagemaker:ListEndpoints"}
    arn = (
        r"arn:\$\{AWS::Partition\}:sagemaker:\$\{AWS::Region\}:\$\{AWS::AccountId\}:"
        r"(endpoint-config|endpoint|model-package)/" + re.escape(PROJECT) + r"-\*"
    )
    granted, wildcard = set(), set()
    for statement in policy_statements(web_role()):
        actions = set(as_list(statement["Action"]))
        resources = as_list(statement["Resource"])
        if resources == ["*"]:
            wildcard |= actions
            continue
        sagemaker = {a for a in actions if a.startswith("sagemaker:")}
        if not sagemaker:
            continue
        assert sagemaker <= set(allowed), sorted(sagemaker - set(allowed))
        granted |= sagemaker
        for resource in resources:
            match = re.fullmatch(arn, arn_text(resource))
            assert match, arn_text(resource)
            assert all(match.group(1) in allowed[a] for a in sagemaker), (sagemaker, arn_text(resource))
    assert granted == set(allowed), sorted(set(allowed) - granted)
    # Only the list calls (no resource-level permissions in SageMaker) and traces name every resource.
    assert wildcard == listing | {"xray:PutTraceSegments", "xray:PutTelemetryRecords"}, wildcard
    # It passes no role and creates or deletes nothing in SageMaker.
    actions = {a for s in policy_statements(web_role()) for a in as_list(s["Action"])}
    assert not any(a.startswith("iam:") for a in actions), actions
    assert not any(re.match(r"sagemaker:(Create|Delete|Stop|Add)", a) for a in actions), actions


def test_the_web_role_uses_the_key_through_s3_and_sns_and_publishes_only_alerts():
    statements = policy_statements(web_role())
    kms = [s for s in statements if any(a.startswith("kms:") for a in as_list(s["Action"]))]
    assert len(kms) == 1 and stack.ref_name(kms[0]["Resource"]) == "PipelineKey"
    assert set(as_list(kms[0]["Action"])) == {"kms:Decrypt", "kms:GenerateDataKey"}
    assert kms[0]["Condition"] == {
        "StringEquals": {
            "kms:ViaService": [
                stack._Tag("Sub", "s3.${AWS::Region}.amazonaws.com"),
                stack._Tag("Sub", "sns.${AWS::Region}.amazonaws.com"),
            ]
        }
    }
    publish = [s for s in statements if "sns:Publish" in as_list(s["Action"])]
    assert [stack.ref_name(r) for s in publish for r in as_list(s["Resource"])] == ["AlertTopic"]


def test_the_user_pool_takes_invited_users_only():
    pool_id, pool = single("AWS::Cognito::UserPool")
    assert pool["AdminCreateUserConfig"]["AllowAdminCreateUserOnly"] is True
    assert pool["UsernameAttributes"] == ["email"]
    # No trigger that could confirm or create users behind the administrator's back.
    assert "LambdaConfig" not in pool
    policy = pool["Policies"]["PasswordPolicy"]
    assert policy["MinimumLength"] >= 12
    assert all(policy[k] is True for k in ("RequireLowercase", "RequireUppercase", "RequireNumbers", "RequireSymbols"))
    # The invitation carries the Cognito placeholders it must (user name, temporary password).
    message = arn_text(pool["AdminCreateUserConfig"]["InviteMessageTemplate"]["EmailMessage"])
    assert "{username}" in message and "{####}" in message
    # Cognito's own users only: no other identity provider, no other client.
    assert not resources_of("AWS::Cognito::UserPoolIdentityProvider")
    assert all(stack.ref_name(c["Properties"]["UserPoolId"]) == pool_id for c in resources_of("AWS::Cognito::UserPoolClient").values())


def test_the_web_client_is_public_with_the_code_flow_only():
    _, client = single("AWS::Cognito::UserPoolClient")
    assert client["GenerateSecret"] is False
    assert client["AllowedOAuthFlowsUserPoolClient"] is True
    assert client["AllowedOAuthFlows"] == ["code"]
    assert set(client["AllowedOAuthScopes"]) == {"openid", "email", "profile"}
    assert client["SupportedIdentityProviders"] == ["COGNITO"]
    # No plain-password, admin or custom sign-in through the API.
    assert set(client["ExplicitAuthFlows"]) <= {"ALLOW_USER_SRP_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"}
    assert client["PreventUserExistenceErrors"] == "ENABLED"
    # The only addresses Cognito sends a code or a signed-out user to: the app's own, which the
    # function is told (HAWKINS_WEB_URL ends in "/").
    assert client["CallbackURLs"] == [stack._Tag("Sub", "${WebHttpApi.ApiEndpoint}/auth/callback")]
    assert client["LogoutURLs"] == [WEB_URL]
    assert web_variables()["HAWKINS_WEB_URL"] == WEB_URL
    # Short-lived tokens: an ID token (the cookie) for an hour, a refresh token for a day.
    units = client["TokenValidityUnits"]
    assert units["IdToken"] == units["AccessToken"] == "hours" and units["RefreshToken"] == "days"
    assert client["IdTokenValidity"] <= 1 and client["AccessTokenValidity"] <= 1 and client["RefreshTokenValidity"] <= 1


def test_the_operator_is_an_approver():
    user_id, user = single("AWS::Cognito::UserPoolUser")
    assert user["Username"] == stack._Tag("Ref", "AlertEmail")
    assert {a["Name"]: a["Value"] for a in user["UserAttributes"]} == {
        "email": stack._Tag("Ref", "AlertEmail"),
        "email_verified": "true",
    }
    assert user["DesiredDeliveryMediums"] == ["EMAIL"]
    _, attachment = single("AWS::Cognito::UserPoolUserToGroupAttachment")
    assert stack.ref_name(attachment["Username"]) == user_id
    group_id = stack.ref_name(attachment["GroupName"])
    assert group_id == stack.ref_name(web_variables()["HAWKINS_APPROVERS_GROUP"])
    assert RESOURCES[group_id]["Properties"]["GroupName"] == "approvers"
    assert stack.ref_name(attachment["UserPoolId"]) == stack.ref_name(user["UserPoolId"])


def evaluate(value, pseudo: dict[str, str]):
    """A !Join / !Select / !Split / !Ref of pseudo parameters, evaluated."""
    if isinstance(value, stack._Tag):
        args = value.value
        if value.name == "Ref":
            return pseudo[args]
        if value.name == "Join":
            return args[0].join(evaluate(v, pseudo) for v in args[1])
        if value.name == "Select":
            return evaluate(args[1], pseudo)[int(args[0])]
        if value.name == "Split":
            return evaluate(args[1], pseudo).split(args[0])
        raise AssertionError(f"unexpected {value!r}")
    return value


@pytest.mark.parametrize("stack_name", ["hawkins", "Hawkins-Prod", "a" * 128])
def test_the_hosted_domain_prefix_is_valid_for_any_stack(stack_name: str):
    _, domain = single("AWS::Cognito::UserPoolDomain")
    prefix = evaluate(
        domain["Domain"],
        {
            "AWS::AccountId": "123456789012",
            "AWS::StackId": f"arn:aws:cloudformation:eu-west-1:123456789012:stack/{stack_name}/51af3dc0-da77-11e4-872e-1234567db123",
        },
    )
    # Lowercase letters, digits and hyphens, 63 at most, none of Cognito's reserved words.
    assert re.fullmatch(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?", prefix), prefix
    assert not any(word in prefix for word in ("aws", "amazon", "cognito")), prefix


def test_the_bucket_lets_only_the_web_app_put_across_origins():
    rules = RESOURCES["PipelineBucket"]["Properties"]["CorsConfiguration"]["CorsRules"]
    assert [(r["AllowedMethods"], r["AllowedOrigins"]) for r in rules] == [
        (["PUT"], [stack._Tag("GetAtt", "WebHttpApi.ApiEndpoint")])
    ], rules


def test_the_web_outputs():
    outputs = TEMPLATE["Outputs"]
    assert outputs["WebUrl"]["Value"] == WEB_URL
    assert stack.ref_name(outputs["WebUserPoolId"]["Value"]) == single("AWS::Cognito::UserPool")[0]
    assert stack.ref_name(outputs["WebFunctionName"]["Value"]) == web_function().logical_id


# --- the SAM transform ------------------------------------------------------------------------------


def sam_transform(path, monkeypatch) -> dict:
    from cfnlint.decode import decode
    from samtranslator.translator.transform import transform

    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    template, problems = decode(str(path))
    assert not problems
    template = json.loads(json.dumps(template))
    for resource in template["Resources"].values():
        if resource["Type"] == "AWS::Serverless::Function":
            # What `sam deploy` puts there after uploading the build.
            resource["Properties"]["CodeUri"] = "s3://bucket/function.zip"

    class NoManagedPolicies:
        def load(self) -> dict:
            return {}

    return transform(template, {}, NoManagedPolicies())


def test_sam_transform_accepts_the_template(monkeypatch):
    output = sam_transform(stack.TEMPLATE, monkeypatch)
    kinds = {r["Type"] for r in output["Resources"].values()}
    assert "AWS::Serverless::Function" not in kinds
    assert "AWS::Lambda::Function" in kinds


def references(node) -> set[str]:
    """The names a piece of a transformed (JSON) template refers to: Ref, Fn::GetAtt, Fn::Sub."""
    if isinstance(node, list):
        return set().union(*(references(v) for v in node)) if node else set()
    if not isinstance(node, dict):
        return set()
    if set(node) == {"Ref"}:
        return {node["Ref"]}
    if set(node) == {"Fn::GetAtt"}:
        target = node["Fn::GetAtt"]
        return {target.split(".")[0] if isinstance(target, str) else target[0]}
    if set(node) == {"Fn::Sub"}:
        text, variables = (node["Fn::Sub"], {}) if isinstance(node["Fn::Sub"], str) else node["Fn::Sub"]
        named = {m.split(".")[0] for m in re.findall(r"\$\{([^}!]+)\}", text)} - set(variables)
        return named | references(variables)
    return references(list(node.values()))


def test_the_template_has_no_circular_dependency(monkeypatch):
    # CloudFormation refuses a circle at deploy time; cfn-lint misses one through a resource the
    # SAM transform creates (a function URL, for one), so it is looked for after the transform.
    resources = sam_transform(stack.TEMPLATE, monkeypatch)["Resources"]
    graph = {
        name: (references(resource) | set(as_list(resource.get("DependsOn", [])))) & set(resources) - {name}
        for name, resource in resources.items()
    }
    done, path = set(), []

    def visit(name: str):
        if name in path:
            raise AssertionError("circular dependency: " + " -> ".join(path[path.index(name):] + [name]))
        if name in done:
            return
        path.append(name)
        for dependency in sorted(graph[name]):
            visit(dependency)
        path.pop()
        done.add(name)

    for name in sorted(graph):
        visit(name)
