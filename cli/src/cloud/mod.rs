//! The commands that operate a deployed stack: `doctor`, `status`, `logs`, `jobs logs`,
//! `approve`/`reject`, `train`, `deploy`/`rollback`, `ab promote`, `costs`, `themes`, `invoke`,
//! `chat` and `cleanup`.
//!
//! Each command connects the same way ([`Connection`] → [`Cloud`]): region, profile and stack from
//! flags or the environment, the SDK configured once (fixed test credentials only when
//! `--endpoint-url` is a loopback address, see [`endpoint`]), the model config read for the project tag (every
//! resource name starts with `<project>-`) and the characters. The stack's outputs are found by
//! name with DescribeStacks. What a command decides (what is unused, what a table shows, what a
//! chat request carries, what an error says) is a pure function in its module; the SDK calls
//! around it stay thin.

mod ab;
mod approve;
mod chat;
mod cleanup;
pub mod config_push;
mod costs;
mod doctor;
pub mod endpoint;
pub mod errors;
mod functions;
mod invoke;
mod jobs;
mod status;
mod steer;
mod table;
mod themes;

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use aws_config::{BehaviorVersion, Region, SdkConfig};
use clap::{Args, Subcommand};
use hawkins::config::Config;

use errors::Call;

use crate::exit::{Exit, coded};

/// Where the stack is and who asks. Every flag may also come from the environment.
#[derive(Args, Debug, Clone)]
pub struct Connection {
    /// The stack's AWS region (else the profile's).
    #[arg(long, env = "AWS_REGION", global = true)]
    pub region: Option<String>,
    /// The AWS profile whose credentials (and region) to use.
    #[arg(long, env = "AWS_PROFILE", global = true)]
    pub profile: Option<String>,
    /// The CloudFormation stack of the pipeline (deployed from infra/template.yaml).
    #[arg(long, env = "HAWKINS_STACK", default_value = "hawkins", global = true)]
    pub stack: String,
    /// Send every AWS call to this endpoint. A loopback address (the local AWS) gets fixed test
    /// credentials; any other endpoint the normal ones (environment, profile, SSO). Standard
    /// error names the endpoint and the credentials.
    #[arg(long, env = "AWS_ENDPOINT_URL", global = true)]
    pub endpoint_url: Option<String>,
    /// The model config: the project tag that prefixes every resource name, and which chatbot
    /// plays which character. A relative path is also looked for in the folders above.
    #[arg(long, default_value = "infra/hawkins.toml", global = true)]
    pub config: PathBuf,
}

/// The commands on a deployed stack.
#[derive(Subcommand, Debug)]
pub enum CloudCommand {
    /// Check that a stack is ready to train, before and after `sam deploy`.
    ///
    /// One line per check, `ok`, `warn` or `fail`, what was found and what to do: the stack is
    /// deployed (CREATE_COMPLETE or UPDATE_COMPLETE, with its outputs); each training image of
    /// the config is in ECR with its tag; each Hugging Face token secret exists and the caller
    /// may describe it (its value is never read); the alert e-mail subscription is confirmed;
    /// the SageMaker quotas of each configured instance type (training, spot training,
    /// endpoints, batch transform) cover the configured instances. Exits with 6 when a check
    /// fails; warnings do not change the exit code.
    ///
    /// Example: hawkins doctor --stack hawkins --region eu-west-1
    Doctor {
        #[command(flatten)]
        connection: Connection,
    },
    /// Print a pipeline function's CloudWatch logs (ingest, train, lifecycle, costs).
    ///
    /// The function's physical name is read from the stack's resources; its log group is
    /// /aws/lambda/<name>. Lines of all its streams, in time order, each with its stream (the
    /// Lambda instance) and time.
    ///
    /// Example: hawkins logs ingest --since 2h --filter ERROR
    Logs {
        #[command(flatten)]
        connection: Connection,
        /// The function.
        #[arg(value_enum)]
        function: functions::Function,
        /// How far back to start: 90s, 15m, 1h, 2d, 1w, or combined as 1h30m.
        #[arg(long, default_value = "1h", value_parser = functions::parse_since)]
        since: i64,
        /// Keep printing new lines until interrupted (Ctrl-C).
        #[arg(long, short = 'f')]
        follow: bool,
        /// A CloudWatch Logs filter pattern, such as ERROR or "quarantined".
        #[arg(long)]
        filter: Option<String>,
    },
    /// Show the deployed stack: uploads, jobs, packages awaiting approval, endpoints.
    ///
    /// Four tables: the newest uploads under raw/ (and whether ingest quarantined them), the
    /// newest training jobs of the config's models, the packages waiting for a person, and the
    /// endpoints with each variant's model, instances and share of the traffic.
    ///
    /// Example: hawkins status --stack hawkins --region eu-west-1
    Status {
        #[command(flatten)]
        connection: Connection,
        /// Rows per table (uploads, jobs).
        #[arg(long, default_value_t = 10)]
        limit: usize,
    },
    /// Training and batch transform jobs.
    ///
    /// Example: hawkins jobs logs chatbot-eleven-3f2a9c1e0b7d --follow
    Jobs {
        #[command(flatten)]
        connection: Connection,
        #[command(subcommand)]
        command: JobsCommand,
    },
    /// Approve a model package; the lifecycle function then deploys it.
    ///
    /// Only a model with [model.deploy] is deployed (a batch model runs its transform job);
    /// others stay registered.
    ///
    /// PACKAGE is `<group>/<version>` (hawkins-chatbot-eleven/3), `<model>/<version>`
    /// (chatbot-eleven/3), the package ARN, or a model or group alone when exactly one of its
    /// packages is waiting.
    ///
    /// Example: hawkins approve chatbot-eleven/3 --note "read 20 replies, in character"
    Approve {
        #[command(flatten)]
        connection: Connection,
        /// The package (see above).
        package: String,
        /// Why: kept as the package's approval description.
        #[arg(long)]
        note: Option<String>,
    },
    /// Reject a model package so that it is never deployed.
    ///
    /// An endpoint already serving it keeps doing so until a newer package is approved.
    ///
    /// PACKAGE is written as for `approve`.
    ///
    /// Example: hawkins reject chatbot-eleven/4 --note "replies break character"
    Reject {
        #[command(flatten)]
        connection: Connection,
        /// The package (see `hawkins approve --help`).
        package: String,
        /// Why: kept as the package's approval description.
        #[arg(long)]
        note: Option<String>,
    },
    /// Start a new training attempt of some models on the current corpus version.
    ///
    /// Writes a request under requests/train/ in the pipeline bucket; the train function starts
    /// one new job per model on the corpus version in datasets/latest.json (as it is now),
    /// whatever the last job did (after a failure, to resume from checkpoints, to compare runs).
    /// Each request is one attempt: delivered twice, it still starts each job once. A changed
    /// training config needs no request: the pipeline retrains the models it changes.
    ///
    /// Example: hawkins train chatbot-dustin
    Train {
        #[command(flatten)]
        connection: Connection,
        /// The models (as named in the config).
        models: Vec<String>,
        /// Every configured model.
        #[arg(long)]
        all: bool,
    },
    /// Deploy an approved version of a model's package on its endpoint.
    ///
    /// Writes a request under requests/deploy/; the lifecycle function deploys exactly that
    /// version (older or newer than what is served) with the model's blue/green policy, as the
    /// only variant, and holds the endpoint on it: approvals of versions up to the newest
    /// approved one no longer deploy by themselves; a newer approval deploys as usual.
    ///
    /// Example: hawkins deploy chatbot-eleven --version 3
    Deploy {
        #[command(flatten)]
        connection: Connection,
        /// The model (as named in the config).
        model: String,
        /// The package version (its number in the group <project>-<model>).
        #[arg(long)]
        version: u32,
    },
    /// Put a model's endpoint back on the previous approved version.
    ///
    /// The newest approved package version older than the one the endpoint serves, deployed as
    /// `hawkins deploy --version` does (and held there until a newer approval).
    ///
    /// Example: hawkins rollback chatbot-eleven
    Rollback {
        #[command(flatten)]
        connection: Connection,
        /// The model (as named in the config).
        model: String,
    },
    /// A/B tests: end one, the endpoint then serving the kept variant alone.
    ///
    /// Example: hawkins ab promote chatbot-hopper
    Ab {
        #[command(flatten)]
        connection: Connection,
        #[command(subcommand)]
        command: AbCommand,
    },
    /// Print what the models cost, computed as the scheduled cost function does.
    ///
    /// The same computation as the scheduled run (the ledger in the stack's bucket, the
    /// endpoints' CloudWatch metrics, the bundled prices with the config's overrides and the
    /// config's budgets, or HAWKINS_*_BUDGET_USD / HAWKINS_IDLE_HOURS when set): the last 24
    /// hours, month to date and the month's forecast, per model and kind, and the bucket's
    /// storage per prefix at the config's [storage] price. Nothing is written, deleted or sent:
    /// the alerts the scheduled run would raise are listed.
    ///
    /// Example: hawkins costs --days 14
    Costs {
        #[command(flatten)]
        connection: Connection,
        /// Days shown in the per-day table (the report's period is the month so far). With
        /// --json the report is the document the scheduled run stores as
        /// reports/costs/<date>.json.
        #[arg(long, default_value_t = 7)]
        days: usize,
    },
    /// Print the theme model's scores per episode: one row per episode, one column per theme.
    ///
    /// The lifecycle function writes them when the theme model's batch transform job completes:
    /// each episode's mean score per theme over its sentences, in
    /// processed/themes/<corpus version>/episodes.json; processed/themes/latest.json names the
    /// newest. With --json the report is printed as stored.
    ///
    /// Example: hawkins themes --version 9ff9935c8ed10b50d1c7e2a8f43b6e01
    Themes {
        #[command(flatten)]
        connection: Connection,
        /// The corpus version (else the newest report).
        #[arg(long)]
        version: Option<String>,
    },
    /// Send one request to an endpoint and print its answer.
    ///
    /// A JSON answer is printed indented; the variant that answered goes to standard error.
    ///
    /// ENDPOINT is the endpoint's name, or a model's name from the config (chatbot-eleven means
    /// the endpoint <project>-chatbot-eleven).
    ///
    /// Example: hawkins invoke hawkins-chatbot-eleven --body '{"messages":[{"role":"user","content":"Where is Will?"}]}'
    Invoke {
        #[command(flatten)]
        connection: Connection,
        /// The endpoint (or model) name.
        endpoint: String,
        /// The request body; `@file` reads a file, `-` reads standard input.
        #[arg(long)]
        body: String,
        #[arg(long, default_value = "application/json")]
        content_type: String,
        #[arg(long, default_value = "application/json")]
        accept: String,
    },
    /// Talk with a deployed character chatbot.
    ///
    /// Each line read from standard input is sent to the endpoint <project>-<model> with the
    /// conversation so far, and the character's reply is printed. `/up` or `/down` rates the
    /// last reply (a record under feedback/ that A/B tests weigh); `/reset` starts over; an
    /// empty line or the end of the input ends the chat.
    ///
    /// CHARACTER is matched against the chatbots' `character` in the config, ignoring case; a
    /// first or last name is enough when only one character has it (eleven, mike, hopper).
    ///
    /// Example: hawkins chat eleven
    Chat {
        #[command(flatten)]
        connection: Connection,
        /// The character (or the chatbot model's name).
        character: String,
        /// Most tokens per reply (1 to 1024).
        #[arg(long, default_value_t = 128)]
        max_new_tokens: u32,
        /// Sampling temperature (0 to 2; 0 always picks the likeliest word).
        #[arg(long, default_value_t = 0.7)]
        temperature: f64,
        /// Exchanges kept in the conversation sent with each line (older ones are dropped).
        #[arg(long, default_value_t = 20)]
        max_turns: usize,
    },
    /// Delete unused endpoint configs and models, and Failed endpoints (only with --yes).
    ///
    /// Lists first; deletes only with --yes. Unused: endpoint configs that no endpoint is on (or
    /// moving to), models that no such config names and no running batch job uses. Failed
    /// endpoints are deleted too: they serve nothing, cost nothing, and block the next
    /// deployment until deleted. Only names starting with `<project>-`; in-service endpoints
    /// are never deleted (the cost report names the idle ones).
    ///
    /// Example: hawkins cleanup   (then, when the list is right: hawkins cleanup --yes)
    Cleanup {
        #[command(flatten)]
        connection: Connection,
        /// Delete what is listed.
        #[arg(long)]
        yes: bool,
        /// Keep configs and models created in the last MINUTES, so that a deployment in
        /// progress keeps what it just created.
        #[arg(long, value_name = "MINUTES", default_value_t = 60)]
        older_than: u32,
    },
}

#[derive(Subcommand, Debug)]
pub enum AbCommand {
    /// Move a model's endpoint to one variant of its A/B test, alone.
    ///
    /// Without --variant, the one the concluded test kept (the hourly check tells the team which,
    /// with ab_promote = "approval"); with it, that variant, which also ends a test still
    /// running. A challenger that is dropped has its package rejected, so it is not deployed
    /// again by itself. Runs the lifecycle function's own promotion with your credentials.
    ///
    /// Example: hawkins ab promote chatbot-hopper --variant challenger
    Promote {
        /// The model (its endpoint is <project>-<model>).
        model: String,
        /// primary or challenger.
        #[arg(long, value_parser = ab::parse_side)]
        variant: Option<hawkins::lifecycle::ab::Side>,
    },
}

#[derive(Subcommand, Debug)]
pub enum JobsCommand {
    /// Print the last lines of a job's CloudWatch logs.
    ///
    /// From /aws/sagemaker/TrainingJobs (or TransformJobs for a batch job): the last lines of
    /// all the job's instances, in time order, each with its instance and time.
    ///
    /// Example: hawkins jobs logs chatbot-eleven-3f2a9c1e0b7d --lines 50 --follow
    Logs {
        /// The training (or transform) job's name, as `hawkins status` shows it.
        job: String,
        /// How many of the last lines to print.
        #[arg(long, short = 'n', default_value_t = 100)]
        lines: usize,
        /// Keep printing new lines until the job ends.
        #[arg(long, short = 'f')]
        follow: bool,
    },
}

/// Runs a command; `json`: print one JSON document (or JSON lines) instead of text.
pub async fn run(command: CloudCommand, json: bool) -> Result<()> {
    match command {
        CloudCommand::Doctor { connection } => {
            doctor::run(&Cloud::connect(&connection).await?, json).await
        }
        CloudCommand::Logs {
            connection,
            function,
            since,
            follow,
            filter,
        } => {
            let cloud = Cloud::connect(&connection).await?;
            let options = functions::Options {
                since_seconds: since,
                follow,
                filter,
                json,
            };
            functions::run(&cloud, function, &options).await
        }
        CloudCommand::Status { connection, limit } => {
            status::run(&Cloud::connect(&connection).await?, limit, json).await
        }
        CloudCommand::Jobs {
            connection,
            command: JobsCommand::Logs { job, lines, follow },
        } => {
            jobs::logs(
                &Cloud::connect(&connection).await?,
                &job,
                lines,
                follow,
                json,
            )
            .await
        }
        CloudCommand::Approve {
            connection,
            package,
            note,
        } => {
            let cloud = Cloud::connect(&connection).await?;
            approve::run(&cloud, &package, approve::Decision::Approve, note, json).await
        }
        CloudCommand::Reject {
            connection,
            package,
            note,
        } => {
            let cloud = Cloud::connect(&connection).await?;
            approve::run(&cloud, &package, approve::Decision::Reject, note, json).await
        }
        CloudCommand::Train {
            connection,
            models,
            all,
        } => steer::train(&Cloud::connect(&connection).await?, &models, all, json).await,
        CloudCommand::Deploy {
            connection,
            model,
            version,
        } => {
            steer::deploy(
                &Cloud::connect(&connection).await?,
                &model,
                Some(version),
                json,
            )
            .await
        }
        CloudCommand::Rollback { connection, model } => {
            steer::deploy(&Cloud::connect(&connection).await?, &model, None, json).await
        }
        CloudCommand::Ab {
            connection,
            command: AbCommand::Promote { model, variant },
        } => {
            let cloud = Cloud::connect(&connection).await?;
            ab::promote(&cloud, &model, variant, json).await
        }
        CloudCommand::Costs { connection, days } => {
            costs::run(&Cloud::connect(&connection).await?, days, json).await
        }
        CloudCommand::Themes {
            connection,
            version,
        } => {
            themes::run(
                &Cloud::connect(&connection).await?,
                version.as_deref(),
                json,
            )
            .await
        }
        CloudCommand::Invoke {
            connection,
            endpoint,
            body,
            content_type,
            accept,
        } => {
            let cloud = Cloud::connect(&connection).await?;
            invoke::run(&cloud, &endpoint, &body, &content_type, &accept, json).await
        }
        CloudCommand::Chat {
            connection,
            character,
            max_new_tokens,
            temperature,
            max_turns,
        } => {
            let cloud = Cloud::connect(&connection).await?;
            let options = chat::Options {
                max_new_tokens,
                temperature,
                max_turns,
                json,
            };
            chat::run(&cloud, &character, options).await
        }
        CloudCommand::Cleanup {
            connection,
            yes,
            older_than,
        } => cleanup::run(&Cloud::connect(&connection).await?, yes, older_than, json).await,
    }
}

/// A connection to the stack: the SDK configured once, the region it resolved to, and the model
/// config.
pub struct Cloud {
    pub sdk: SdkConfig,
    pub region: String,
    pub stack: String,
    pub config: Config,
}

/// The stack outputs the commands use (infra/template.yaml's Outputs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StackOutputs {
    pub status: String,
    pub bucket: String,
    /// Where the functions read the model config (`ConfigUri`; a stack deployed before it had
    /// that output reads the bucket's `config/hawkins.toml`).
    pub config_uri: String,
    pub alert_topic_arn: String,
    pub role_arn: String,
}

impl StackOutputs {
    /// Picks the outputs by name; a missing one means the stack is not a Hawkins stack (or an
    /// older one).
    pub fn from_outputs(
        stack: &str,
        status: &str,
        outputs: &[(String, String)],
    ) -> Result<StackOutputs, String> {
        let get = |name: &str| {
            outputs
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
                .ok_or_else(|| {
                    format!(
                        "stack {stack} ({status}) has no output {name}: is it deployed from infra/template.yaml? Pass --stack to name another"
                    )
                })
        };
        let bucket = get("BucketName")?;
        let config_uri = get("ConfigUri")
            .unwrap_or_else(|_| hawkins::config::ConfigLocation::in_bucket(&bucket).uri());
        Ok(StackOutputs {
            status: status.to_string(),
            config_uri,
            bucket,
            alert_topic_arn: get("AlertTopicArn")?,
            role_arn: get("SageMakerExecutionRoleArn")?,
        })
    }
}

/// One of the project's endpoints, as SageMaker describes it, with what every command shows.
pub struct ProjectEndpoint {
    pub name: String,
    /// `InService`, `Updating`, `Failed`, …
    pub status: String,
    /// SageMaker's reason, when it gave one.
    pub failure_reason: Option<String>,
    pub described: aws_sdk_sagemaker::operation::describe_endpoint::DescribeEndpointOutput,
}

/// Finds a relative config path from `cwd` or any folder above it.
pub fn locate(path: &Path, cwd: &Path, exists: impl Fn(&Path) -> bool) -> Option<PathBuf> {
    if path.is_absolute() {
        return exists(path).then(|| path.to_path_buf());
    }
    cwd.ancestors()
        .map(|dir| dir.join(path))
        .find(|candidate| exists(candidate))
}

impl Cloud {
    pub async fn connect(connection: &Connection) -> Result<Cloud> {
        let cwd = std::env::current_dir().context("reading the current folder")?;
        let path = locate(&connection.config, &cwd, Path::exists).ok_or_else(|| {
            coded(
                Exit::InvalidConfig,
                format!(
                    "cannot find the model config {}: run hawkins inside the Hawkins checkout or pass --config <file>",
                    connection.config.display()
                ),
            )
        })?;
        let config = hawkins::config::load(&path).map_err(|errors| {
            coded(
                Exit::InvalidConfig,
                format!(
                    "{errors}\nthe model config is not valid: check it with `hawkins config check {}`",
                    path.display()
                ),
            )
        })?;
        Cloud::connect_with(connection, config).await
    }

    /// As [`Cloud::connect`], with a config already read (`config push` pushes the one it
    /// checked, and needs no other).
    pub async fn connect_with(connection: &Connection, config: Config) -> Result<Cloud> {
        let sdk = sdk_config(connection).await?;
        let region = sdk.region().map(|r| r.to_string()).ok_or_else(|| {
            coded(
                Exit::Usage,
                "no AWS region: pass --region, set AWS_REGION, or set a region in the profile",
            )
        })?;
        Ok(Cloud {
            sdk,
            region,
            stack: connection.stack.clone(),
            config,
        })
    }

    /// The project tag: every resource Hawkins creates is named `<project>-...`.
    pub fn project(&self) -> &str {
        &self.config.pipeline.project_tag
    }

    pub fn prefix(&self) -> String {
        format!("{}-", self.project())
    }

    pub fn sagemaker(&self) -> aws_sdk_sagemaker::Client {
        aws_sdk_sagemaker::Client::new(&self.sdk)
    }

    /// An SDK failure as one line.
    pub fn fail<E, R>(
        &self,
        call: Call,
        resource: &str,
        err: &aws_sdk_sagemaker::error::SdkError<E, R>,
    ) -> anyhow::Error
    where
        E: aws_sdk_sagemaker::error::ProvideErrorMetadata + std::error::Error + 'static,
        R: std::fmt::Debug + 'static,
    {
        errors::aws(call, resource, &self.region, err)
    }

    /// The project's endpoints (`<project>-*`), described, by name.
    pub async fn project_endpoints(&self) -> Result<Vec<ProjectEndpoint>> {
        let client = self.sagemaker();
        let prefix = self.prefix();
        let mut names = Vec::new();
        let mut pages = client
            .list_endpoints()
            .name_contains(&prefix)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| {
                self.fail(
                    errors::sagemaker("ListEndpoints"),
                    &format!("{prefix}*"),
                    &e,
                )
            })?;
            names.extend(
                page.endpoints()
                    .iter()
                    .filter_map(|e| e.endpoint_name())
                    .filter(|n| n.starts_with(&prefix))
                    .map(str::to_string),
            );
        }
        names.sort();
        let mut out = Vec::with_capacity(names.len());
        for name in names {
            let described = client
                .describe_endpoint()
                .endpoint_name(&name)
                .send()
                .await
                .map_err(|err| self.fail(errors::sagemaker("DescribeEndpoint"), &name, &err))?;
            out.push(ProjectEndpoint {
                status: described
                    .endpoint_status()
                    .map(|s| s.as_str().to_string())
                    .unwrap_or_default(),
                failure_reason: described
                    .failure_reason()
                    .filter(|r| !r.is_empty())
                    .map(str::to_string),
                name,
                described,
            });
        }
        Ok(out)
    }

    /// The stack's outputs, by name.
    pub async fn outputs(&self) -> Result<StackOutputs> {
        let stack = self.describe_stack().await?;
        StackOutputs::from_outputs(&self.stack, &stack.status, &stack.outputs)
            .map_err(|e| coded(Exit::AwsRefused, e))
    }

    /// The stack as DescribeStacks shows it.
    pub async fn describe_stack(&self) -> Result<StackInfo> {
        let answer = aws_sdk_cloudformation::Client::new(&self.sdk)
            .describe_stacks()
            .stack_name(&self.stack)
            .send()
            .await
            .map_err(|e| self.fail(errors::cloudformation("DescribeStacks"), &self.stack, &e))?;
        let Some(stack) = answer.stacks().first() else {
            return Err(coded(
                Exit::AwsRefused,
                format!(
                    "no stack named {} in {}: deploy infra/template.yaml or pass --stack",
                    self.stack, self.region
                ),
            ));
        };
        Ok(StackInfo {
            id: stack.stack_id().unwrap_or_default().to_string(),
            status: stack
                .stack_status()
                .map(|s| s.as_str().to_string())
                .unwrap_or_default(),
            reason: stack.stack_status_reason().map(str::to_string),
            outputs: stack
                .outputs()
                .iter()
                .filter_map(|o| Some((o.output_key()?.to_string(), o.output_value()?.to_string())))
                .collect(),
        })
    }
}

/// A stack as DescribeStacks shows it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StackInfo {
    /// The stack's ARN (`arn:aws:cloudformation:<region>:<account>:stack/<name>/<id>`).
    pub id: String,
    pub status: String,
    pub reason: Option<String>,
    pub outputs: Vec<(String, String)>,
}

impl StackInfo {
    /// The account the stack is in, from its ARN.
    pub fn account(&self) -> Option<&str> {
        self.id.split(':').nth(4).filter(|a| !a.is_empty())
    }
}

/// The SDK configuration: the local AWS's fixed credentials for a loopback endpoint, else the
/// default chain (environment, profile, SSO, instance role) with the profile and region asked for,
/// and the endpoint when one is given. An endpoint override is named on standard error with its
/// credentials.
async fn sdk_config(connection: &Connection) -> Result<SdkConfig> {
    let credentials = match &connection.endpoint_url {
        Some(endpoint) => {
            let environment_keys =
                std::env::var_os("AWS_ACCESS_KEY_ID").is_some_and(|v| !v.is_empty());
            let credentials =
                endpoint::credentials(endpoint, connection.profile.as_deref(), environment_keys)
                    .map_err(|e| coded(Exit::Usage, e))?;
            eprintln!("{}", endpoint::note(endpoint, &credentials));
            Some((endpoint, credentials))
        }
        None => None,
    };
    if let Some((endpoint, endpoint::Credentials::LocalTest)) = credentials {
        let mut builder = hawkins::aws::local_config(endpoint).into_builder();
        if let Some(region) = &connection.region {
            builder.set_region(Some(Region::new(region.clone())));
        }
        return Ok(builder.build());
    }
    let mut loader = aws_config::defaults(BehaviorVersion::latest());
    if let Some(profile) = &connection.profile {
        loader = loader.profile_name(profile);
    }
    if let Some(region) = &connection.region {
        loader = loader.region(Region::new(region.clone()));
    }
    if let Some((endpoint, _)) = credentials {
        loader = loader.endpoint_url(endpoint);
    }
    Ok(loader.load().await)
}

/// Seconds since the epoch.
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or_default()
}

/// A SageMaker time in seconds.
pub fn secs(t: Option<&aws_sdk_sagemaker::primitives::DateTime>) -> Option<i64> {
    t.map(|t| t.secs())
}

/// A config of the given `[[model]]` sections, for the modules' tests.
#[cfg(test)]
pub fn test_config(models: &str) -> Config {
    let text = format!(
        "[pipeline]\ntraining_image = \"hawkins-training:0.1.0\"\n[defaults]\ninstance_type = \"ml.g5.2xlarge\"\nmax_runtime_seconds = 3600\nbase_model = \"Qwen/Qwen2.5-3B-Instruct\"\n{models}"
    );
    hawkins::config::parse("test.toml", &text).unwrap_or_else(|e| panic!("{e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(names: &[&str]) -> Vec<(String, String)> {
        names
            .iter()
            .map(|n| (n.to_string(), format!("value-of-{n}")))
            .collect()
    }

    #[test]
    fn outputs_are_found_by_name() {
        let outputs = pairs(&[
            "IngestFunctionName",
            "SageMakerExecutionRoleArn",
            "BucketName",
            "AlertTopicArn",
        ]);
        let found = StackOutputs::from_outputs("hawkins", "CREATE_COMPLETE", &outputs).unwrap();
        assert_eq!(found.bucket, "value-of-BucketName");
        assert_eq!(found.alert_topic_arn, "value-of-AlertTopicArn");
        assert_eq!(found.role_arn, "value-of-SageMakerExecutionRoleArn");
        assert_eq!(
            found.config_uri, "s3://value-of-BucketName/config/hawkins.toml",
            "a stack without the output: the bucket's default place"
        );
        let mut with_uri = outputs.clone();
        with_uri.push(("ConfigUri".into(), "s3://elsewhere/h.toml".into()));
        let found = StackOutputs::from_outputs("hawkins", "CREATE_COMPLETE", &with_uri).unwrap();
        assert_eq!(found.config_uri, "s3://elsewhere/h.toml");
    }

    #[test]
    fn a_stack_without_the_outputs_is_named() {
        let error = StackOutputs::from_outputs("other", "UPDATE_COMPLETE", &pairs(&["BucketName"]))
            .unwrap_err();
        assert_eq!(
            error,
            "stack other (UPDATE_COMPLETE) has no output AlertTopicArn: is it deployed from infra/template.yaml? Pass --stack to name another"
        );
    }

    #[test]
    fn the_account_is_read_from_the_stack_arn() {
        let stack = StackInfo {
            id: "arn:aws:cloudformation:eu-west-1:123456789012:stack/hawkins/6f1e".into(),
            ..Default::default()
        };
        assert_eq!(stack.account(), Some("123456789012"));
        assert_eq!(StackInfo::default().account(), None);
    }

    #[test]
    fn a_relative_config_is_found_above() {
        let have = Path::new("/repo/infra/hawkins.toml");
        let exists = |p: &Path| p == have;
        assert_eq!(
            locate(
                Path::new("infra/hawkins.toml"),
                Path::new("/repo/cli/src"),
                exists
            ),
            Some(have.to_path_buf())
        );
        assert_eq!(
            locate(
                Path::new("infra/hawkins.toml"),
                Path::new("/elsewhere"),
                exists
            ),
            None
        );
        assert_eq!(
            locate(have, Path::new("/elsewhere"), exists),
            Some(have.to_path_buf())
        );
    }
}
