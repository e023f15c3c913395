"""What the pinned moto server lacks for Hawkins' endpoint paths, added before it starts.

moto 5.2.5 answers CreateEndpoint but not UpdateEndpoint, and checks instance types against a list
from before the g5/g6/inf2/trn1 families. This module, imported by the server wrapper in
tests/localaws/src/process.rs, adds:

- UpdateEndpoint with SageMaker's observable result: the endpoint switches to the new endpoint
  config (its variants), stays InService, clears FailureReason, and shows the request's
  DeploymentConfig as LastDeploymentConfig. An endpoint that is not InService refuses the update,
  as SageMaker does.
- POST /moto-api/hawkins/sagemaker/roll-back-endpoint: what SageMaker does when an alarm fires during a blue/green update: the
  endpoint returns to the config it had before the last update, stays InService, and reports the
  given FailureReason. The local run and the tests call it to stand in for a failed deployment.
- Any well-formed ml.<family>.<size> instance type for endpoint configs.
- UpdateModelPackage keeping the package's CustomerMetadataProperties when the request does not
  change them, as SageMaker does (moto 5.2.5 drops them, and with them Hawkins' lineage).
- CreateTrainingJob refusing a name already taken (ResourceInUse), as SageMaker does: moto 5.2.5
  replaces the job, which would hide a second start of the same job (its tuning jobs refuse already).
- InvokeEndpoint answering as the models would, there being no GPU: a chatbot endpoint
  (`<project>-chatbot-<name>`) answers with the reply, from its character's own dataset in the
  pipeline bucket, whose preceding line shares most words with the message; the location
  classifier answers with the label of the location whose description shares most words. The
  variant is the one asked for, else one drawn by the variants' weights, and is reported as
  SageMaker reports it. A missing endpoint, or one not InService, is refused as SageMaker refuses.
  Answers scripted through moto's endpoint-results API, and endpoints without such a dataset, get
  moto's own behaviour.
"""

import json
import random
import re

from moto.core import DEFAULT_ACCOUNT_ID
from moto.core.responses import ActionResult
from moto.moto_api._internal import urls as moto_api_urls
from moto.sagemaker import models, responses
from moto.sagemaker.exceptions import ResourceInUseException, ValidationError
from moto.sagemakerruntime import responses as runtime_responses

_INSTANCE_TYPE = re.compile(r"^ml\.[a-z0-9]+\.[a-z0-9]+$")


def _validate_instance_type(self, instance_type):
    if not _INSTANCE_TYPE.match(instance_type or ""):
        raise ValidationError(
            message=f"Value '{instance_type}' at 'instanceType' is not an ml.<family>.<size> instance type"
        )


def _endpoint(backend, name):
    endpoint = backend.endpoints.get(name)
    if endpoint is None:
        arn = models.FakeEndpoint.arn_formatter(name, backend.account_id, backend.region_name)
        raise ValidationError(message=f"Could not find endpoint '{arn}'.")
    return endpoint


def _switch(endpoint, config_name, config):
    endpoint.endpoint_config_name = config_name
    endpoint.production_variants = endpoint._process_production_variants(
        config["ProductionVariants"]
    )
    endpoint.last_modified_time = models.utcnow()


def update_endpoint(self):
    backend = self.sagemaker_backend
    name = self._get_param("EndpointName")
    config_name = self._get_param("EndpointConfigName")
    endpoint = _endpoint(backend, name)
    if endpoint.endpoint_status != "InService":
        raise ValidationError(
            message=f"Cannot update in-progress endpoint \"{endpoint.arn}\"."
        )
    config = backend.describe_endpoint_config(config_name)
    endpoint.hawkins_previous_config = endpoint.endpoint_config_name
    _switch(endpoint, config_name, config)
    endpoint.failure_reason = None
    deployment = self._get_param("DeploymentConfig")
    if deployment:
        endpoint.last_deployment_config = deployment
    return ActionResult({"EndpointArn": endpoint.arn})


def roll_back_endpoint(request, full_url, headers):
    """POST /moto-api/hawkins/sagemaker/roll-back-endpoint with JSON
    {"EndpointName", "FailureReason", "Region"?, "Account"?}."""
    body = json.loads(request.get_data() or b"{}")
    backend = models.sagemaker_backends[body.get("Account", DEFAULT_ACCOUNT_ID)][
        body.get("Region", "us-east-1")
    ]
    try:
        endpoint = _endpoint(backend, body.get("EndpointName", ""))
        previous = getattr(endpoint, "hawkins_previous_config", None)
        if previous is None:
            raise ValidationError(message="The endpoint has no update to roll back.")
        _switch(endpoint, previous, backend.describe_endpoint_config(previous))
    except ValidationError as e:
        return 400, {"Content-Type": "application/json"}, json.dumps({"message": e.message})
    endpoint.hawkins_previous_config = None
    endpoint.endpoint_status = "InService"
    endpoint.failure_reason = body.get("FailureReason") or "Update rolled back"
    return 200, {"Content-Type": "application/json"}, json.dumps({"EndpointConfigName": previous})


_update_model_package = models.SageMakerModelBackend.update_model_package


def update_model_package(self, **kwargs):
    arn = kwargs.get("model_package_arn")
    package = self.model_packages.get(self.model_package_name_mapping.get(arn, arn))
    if package is not None:
        kept = dict(package.customer_metadata_properties or {})
        kept.update(kwargs.get("customer_metadata_properties") or {})
        kwargs["customer_metadata_properties"] = kept
    return _update_model_package(self, **kwargs)


_create_training_job = models.SageMakerModelBackend.create_training_job


def create_training_job(self, *args, **kwargs):
    name = kwargs.get("training_job_name", args[0] if args else None)
    if name in self.training_jobs:
        raise ResourceInUseException(
            message=f"Training job names must be unique within an AWS account and region, and a training job named {name} already exists"
        )
    return _create_training_job(self, *args, **kwargs)


_WORD = re.compile(r"[a-z0-9']+")


def _words(text):
    return set(_WORD.findall((text or "").lower()))


def _pipeline_object(key):
    """The newest `key` in whichever local bucket holds the corpus (`datasets/latest.json`)."""
    from moto.s3.models import s3_backends

    backend = s3_backends[DEFAULT_ACCOUNT_ID]["aws"]
    for name in list(backend.buckets):
        try:
            obj = backend.get_object(name, key)
        except Exception:  # noqa: BLE001 - a bucket without the key
            obj = None
        if obj is not None:
            return obj.value
    return None


def _dataset(manifest_suffix):
    latest = _pipeline_object("datasets/latest.json")
    if latest is None:
        return []
    manifest = json.loads(latest)
    for entry in manifest.get("datasets", []):
        if entry.get("key", "").endswith(manifest_suffix):
            body = _pipeline_object(entry["key"])
            if body is None:
                return []
            return [json.loads(line) for line in body.decode("utf-8").splitlines() if line.strip()]
    return []


def _best(candidates, text, words_of):
    asked = _words(text)
    best, best_score = None, -1.0
    for item in candidates:
        words = words_of(item)
        score = len(asked & words) / (len(asked | words) or 1)
        if score > best_score:
            best, best_score = item, score
    return best, max(best_score, 0.0)


def _answer(endpoint_name, body):
    request = json.loads(body or b"{}")
    project, _, model = endpoint_name.partition("-")
    if model.startswith("chatbot-"):
        records = _dataset("/chatbot/" + model[len("chatbot-"):] + ".jsonl")
        messages = request.get("messages") or []
        line = messages[-1]["content"] if messages else ""
        if not records:
            return None
        record, _ = _best(records, line, lambda r: _words(r["messages"][1]["content"]))
        return {"reply": record["messages"][2]["content"]}
    if model.startswith("location"):
        records = _dataset("/locations/locations.jsonl")
        if not records:
            return None
        inputs = request.get("inputs") or [""]
        inputs = [inputs] if isinstance(inputs, str) else inputs
        predictions = []
        for text in inputs:
            record, score = _best(records, text, lambda r: _words(r["text"]))
            predictions.append({"label": record["label"], "score": round(0.5 + score / 2, 6)})
        return {"predictions": predictions}
    return None


_invoke_endpoint = runtime_responses.SageMakerRuntimeResponse.invoke_endpoint


def invoke_endpoint(self):
    # /endpoints/<name>/invocations
    name = self.path.split("?")[0].split("/")[2]
    runtime = self.sagemakerruntime_backend
    if runtime.results_queue or runtime.results.get(name):
        # Answers a test scripted through moto's own endpoint-results API come first.
        return _invoke_endpoint(self)
    backend = models.sagemaker_backends[self.current_account][self.region]
    endpoint = backend.endpoints.get(name)
    if endpoint is None:
        arn = models.FakeEndpoint.arn_formatter(name, backend.account_id, backend.region_name)
        raise ValidationError(message=f"Endpoint {arn} not found.")
    if endpoint.endpoint_status != "InService":
        raise ValidationError(
            message=f"Endpoint {name} is {endpoint.endpoint_status}, not InService."
        )
    answer = _answer(name, self.body)
    if answer is None:
        return _invoke_endpoint(self)
    variants = endpoint.production_variants
    asked = self.headers.get("X-Amzn-SageMaker-Target-Variant")
    names = [v["VariantName"] for v in variants]
    if asked:
        if asked not in names:
            raise ValidationError(message=f"Variant {asked} is not a variant of endpoint {name}.")
        variant = asked
    else:
        weights = [float(v.get("CurrentWeight", 1.0) or 0.0) for v in variants]
        variant = random.choices(names, weights=weights)[0] if sum(weights) > 0 else names[0]
    headers = {"Content-Type": "application/json", "x-Amzn-Invoked-Production-Variant": variant}
    return 200, headers, json.dumps(answer)


runtime_responses.SageMakerRuntimeResponse.invoke_endpoint = invoke_endpoint
models.SageMakerModelBackend.create_training_job = create_training_job
models.SageMakerModelBackend.update_model_package = update_model_package
models.FakeEndpointConfig.validate_instance_type = _validate_instance_type
responses.SageMakerResponse.update_endpoint = update_endpoint
moto_api_urls.url_paths["{0}/moto-api/hawkins/sagemaker/roll-back-endpoint"] = roll_back_endpoint
