#!/usr/bin/env bash
# Builds the training image for linux/amd64, pushes it to ECR, and prints its URI:
#
#   <account>.dkr.ecr.<region>.amazonaws.com/hawkins-training:<tag>
#
# which is the value the Hawkins config expects as the training image.
#
# Usage: docker/build_and_push.sh [--dry-run]
#   --dry-run           print the commands and the URI; call neither aws nor docker
# Environment (all optional):
#   AWS_REGION          region of the ECR repository (else AWS_DEFAULT_REGION, else the CLI's configured one)
#   AWS_ACCOUNT_ID      account of the repository (else from `aws sts get-caller-identity`)
#   HAWKINS_ECR_REPOSITORY  repository name (default hawkins-training; created when missing)
#   TAG                 image tag (default: the git commit, short, with -dirty when docker/ has changes)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
dry_run=false
for argument in "$@"; do
    case "$argument" in
        --dry-run) dry_run=true ;;
        -h | --help) sed -n '2,16p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "build_and_push.sh: unknown argument $argument" >&2; exit 2 ;;
    esac
done

run() {
    if $dry_run; then
        printf '+'; printf ' %q' "$@"; printf '\n'
    else
        "$@"
    fi
}

region="${AWS_REGION:-${AWS_DEFAULT_REGION:-}}"
if [[ -z "$region" ]]; then
    region="$(aws configure get region || true)"
fi
if [[ -z "$region" ]]; then
    echo "build_and_push.sh: set AWS_REGION (no region is configured for the AWS CLI)" >&2
    exit 1
fi
account="${AWS_ACCOUNT_ID:-}"
if [[ -z "$account" ]]; then
    account="$(aws sts get-caller-identity --query Account --output text)"
fi
repository="${HAWKINS_ECR_REPOSITORY:-hawkins-training}"
tag="${TAG:-}"
if [[ -z "$tag" ]]; then
    tag="$(git -C "$here" rev-parse --short=12 HEAD)"
    if [[ -n "$(git -C "$here" status --porcelain -- .)" ]]; then
        tag="$tag-dirty"
    fi
fi
registry="$account.dkr.ecr.$region.amazonaws.com"
image="$registry/$repository:$tag"

if ! $dry_run && ! aws ecr describe-repositories --region "$region" --repository-names "$repository" >/dev/null 2>&1; then
    aws ecr create-repository --region "$region" --repository-name "$repository" \
        --image-scanning-configuration scanOnPush=true >/dev/null
    echo "build_and_push.sh: created ECR repository $repository" >&2
fi
if $dry_run; then
    echo "+ aws ecr get-login-password --region $region | docker login --username AWS --password-stdin $registry"
else
    aws ecr get-login-password --region "$region" | docker login --username AWS --password-stdin "$registry"
fi
run docker build --platform linux/amd64 --tag "$image" "$here"
run docker push "$image"
echo "$image"
