"""Entry point: `python -m hawkins_train train` or `python -m hawkins_train serve`.

SageMaker starts a training job's container as `<image> train` and an endpoint's or a batch
transform's as `<image> serve`; the image's ENTRYPOINT is `python -m hawkins_train`.

Exit status of `train`: 0 when the model was written, 1 on a failure (its message is in
/opt/ml/output/failure), 143 when SIGTERM stopped the job after a checkpoint.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import traceback

from . import contract
from .contract import JobError, Paths, StopFlag, Stopped, log

USAGE = "usage: python -m hawkins_train {train|serve}"


def train() -> int:
    paths = Paths.from_env()
    stop = StopFlag()
    in_main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, stop) if in_main_thread else None
    kind = "training"
    try:
        hp = contract.parse_hyperparameters(contract.read_hyperparameters(paths))
        kind = hp.model_kind
        for key in hp.ignored:
            log(f"ignoring unknown hyperparameter '{key}'")
        token = None
        if hp.hf_token_secret_arn:
            from .hf_token import read_hf_token

            token = read_hf_token(hp.hf_token_secret_arn)
        log(
            f"model_kind={hp.model_kind} base_model={hp.base_model}"
            + (f" character={hp.character}" if hp.character else "")
        )
        if hp.model_kind == "chatbot":
            from .chatbot import train as run
        elif hp.model_kind == "location":
            from .location import train as run
        else:
            from .theme import package as run
        results = run(hp, paths, token, stop)
        from .loop import write_json

        write_json(paths.output_data_dir / "metrics.json", {"model_kind": hp.model_kind, **results})
        log("done")
        return 0
    except Stopped as stopped:
        log(f"stopped by SIGTERM at step {stopped.step}; the next run resumes from the checkpoint")
        return 143
    except JobError as err:
        contract.write_failure(paths, str(err))
        return 1
    except Exception as err:  # anything else still leaves a readable FailureReason
        traceback.print_exc(file=sys.stderr)
        message = f"{type(err).__name__}: {err}"
        if type(err).__name__ == "OutOfMemoryError":
            message = (
                f"The GPU ran out of memory ({err}). Lower batch_size or max_seq_length, set "
                "gradient_checkpointing=true, or use an instance with more GPU memory."
            )
        else:
            message = f"The {kind} job failed unexpectedly: {message}. The traceback is in the job's log."
        contract.write_failure(paths, message)
        return 1
    finally:
        if in_main_thread and previous is not None:
            signal.signal(signal.SIGTERM, previous)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    # The tokenizers' own thread pool is enough; without this they warn on every fork.
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    if args[:1] == ["train"]:
        return train()
    if args[:1] == ["serve"]:
        from .serve import main as serve

        return serve()
    print(USAGE, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
