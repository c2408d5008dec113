//! `apsis submit --pan P --ms MS --out DIR`: runs the P/MS chain on a scientist's own pair, against Apsis (`apsis
//! dev`) or any Zeebe 8.x gateway (Camunda 8) whose workers run the chain's functions.
//!
//! 1. Checks the inputs, when they look local (not a GDAL virtual path such as /vsis3/..., not a URL): the images
//!    and the sensor model exist, the DEM is a folder, the output folder exists (it is created). Relative paths are
//!    made absolute: the functions run elsewhere. `--no-local-check` skips this when the paths are the functions'
//!    and not visible from here.
//! 2. Deploys the embedded chain (Zeebe, like Apsis, keeps the version of an identical resource: no new version).
//! 3. Creates the instance and prints its key at once.
//! 4. Waits for its end by polling, every [`POLL_EVERY`], SetVariables with an empty document on the instance:
//!    it changes no variable, and Zeebe answers NOT_FOUND once the instance has ended. (CreateProcessInstance-
//!    WithResult would return the variables but not the key before the end, so a chain held by an incident could
//!    not even be named; and a call held open for hours does not survive every proxy.) Then prints the product's
//!    path, `{out}/normalized_ortho.tif`, after checking that it exists when it is local.
//!
//! The Zeebe API cannot show incidents: a failed step (OTB's message) holds the instance until an operator acts,
//! and this command can only keep waiting (up to `--timeout`). It says so, with the instance key, up front.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use apsis_proto as pb;
use serde_json::json;
use tonic::Code;

use crate::chain::{self, Inputs};
use crate::client::{Action, Error, Session, REQUEST_TIMEOUT};
use crate::input;

/// How often the instance is asked whether it has ended.
const POLL_EVERY: Duration = Duration::from_secs(2);

#[derive(Debug, clap::Args)]
pub struct SubmitArgs {
    /// The panchromatic (P) image.
    #[arg(long, value_name = "PATH")]
    pan: PathBuf,
    /// The multispectral (MS) image.
    #[arg(long, value_name = "PATH")]
    ms: PathBuf,
    /// The folder of the outputs (bundle.tif, ortho.tif, normalized_ortho.tif); created when missing.
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    /// The P image's OTB sensor model (.geom) [default: the P image's path with the extension .geom].
    #[arg(long, value_name = "PATH")]
    geom: Option<PathBuf>,
    /// A DEM folder for the ortho-rectification (OTB's -elev.dem) [default: none].
    #[arg(long, value_name = "DIR")]
    dem: Option<PathBuf>,
    /// The chain's mode: pms-chain (receive tasks, failures re-run once in hold mode) or pms-chain-hold.
    #[arg(long, value_name = "ID", default_value = "pms-chain", value_parser = ["pms-chain", "pms-chain-hold"])]
    process: String,
    /// How long to wait for the end, e.g. 30m, 12h [default 12h]; the instance keeps running after that.
    #[arg(long, value_name = "DURATION", default_value = "12h", value_parser = input::duration)]
    timeout: Duration,
    /// Do not check the paths here: they are the functions' paths and not visible from this machine.
    #[arg(long)]
    no_local_check: bool,
    #[command(flatten)]
    client: crate::connection::ClientArgs,
}

/// `apsis submit`: the exit code (see `client.rs`).
pub fn main(args: SubmitArgs) -> ExitCode {
    crate::client::run(&args.client.clone(), async |session| {
        run(args, session).await
    })
}

/// A path that names a local file: not a GDAL virtual file system path, not a URL.
fn looks_local(path: &Path) -> bool {
    let text = path.to_string_lossy();
    !text.starts_with("/vsi") && !text.contains("://")
}

/// `path` made absolute when it looks local.
fn absolute(path: &Path) -> Result<PathBuf, Error> {
    if !looks_local(path) {
        return Ok(path.to_path_buf());
    }
    std::path::absolute(path).map_err(|e| {
        Error::Input(format!(
            "Expected to make {} absolute, but could not: {e}",
            path.display()
        ))
    })
}

/// The chain's inputs from the flags, checked as the module documentation says.
fn inputs(args: &SubmitArgs) -> Result<Inputs, Error> {
    let pan = absolute(&args.pan)?;
    let geom = match &args.geom {
        Some(g) => absolute(g)?,
        None => Inputs::default_geom(&pan),
    };
    let inputs = Inputs {
        ms: absolute(&args.ms)?,
        out: absolute(&args.out)?,
        dem: args.dem.as_deref().map(absolute).transpose()?,
        geom,
        pan,
    };
    if args.no_local_check {
        return Ok(inputs);
    }
    let hint = "(or pass --no-local-check if the paths are the functions' and not visible here)";
    let file = |path: &Path, what: &str| -> Result<(), Error> {
        if !looks_local(path) || path.is_file() {
            return Ok(());
        }
        let found = if path.exists() {
            "it is not a file"
        } else {
            "there is no such file"
        };
        Err(Error::Input(format!(
            "Expected {what} at {}, but {found} {hint}",
            path.display()
        )))
    };
    file(&inputs.pan, "the panchromatic image (--pan)")?;
    file(&inputs.ms, "the multispectral image (--ms)")?;
    let geom_what = if args.geom.is_some() {
        "the sensor model (--geom)"
    } else {
        "the P image's sensor model next to it (the default of --geom)"
    };
    file(&inputs.geom, geom_what)?;
    if let Some(dem) = &inputs.dem {
        if looks_local(dem) && !dem.is_dir() {
            return Err(Error::Input(format!(
                "Expected the DEM folder (--dem) at {}, but there is no such folder {hint}",
                dem.display()
            )));
        }
    }
    if looks_local(&inputs.out) && !inputs.out.is_dir() {
        std::fs::create_dir_all(&inputs.out).map_err(|e| {
            Error::Input(format!(
                "Expected to create the output folder (--out) {}, but could not: {e}",
                inputs.out.display()
            ))
        })?;
    }
    Ok(inputs)
}

async fn run(args: SubmitArgs, session: &Session) -> Result<(), Error> {
    let inputs = inputs(&args)?;
    let resource = if args.process == chain::CHAIN_HOLD.process_id {
        chain::CHAIN_HOLD
    } else {
        chain::CHAIN
    };
    let mut gateway = session.connect().await?;
    let deployed = chain::deploy(session, &mut gateway, &[resource]).await?;
    let version = deployed
        .deployments
        .iter()
        .find_map(|d| match &d.metadata {
            Some(pb::deployment::Metadata::Process(p)) => Some(p.version),
            _ => None,
        })
        .unwrap_or(-1);
    let action = Action::new(format!("start process '{}'", resource.process_id));
    let created = session
        .call(
            &action,
            Some(REQUEST_TIMEOUT),
            gateway.create_process_instance(pb::CreateProcessInstanceRequest {
                bpmn_process_id: resource.process_id.to_owned(),
                version,
                variables: inputs.variables().to_string(),
                ..Default::default()
            }),
        )
        .await?;
    let key = created.process_instance_key;
    let incidents = format!(
        "A failed step stops the chain on an incident (with OTB's message), which the Zeebe API cannot show: look \
         for instance {key} in Operate (Camunda 8), or in the apsis engine's log ('incident raised' lines with \
         process_instance_key={key}; GET /incidents on its monitoring port)."
    );
    if !session.json_output() {
        eprintln!(
            "Started {} version {} at {}: instance {key}. Waiting for it to end (up to {}; Ctrl-C stops the \
             waiting, not the chain).\n{incidents}",
            resource.process_id,
            created.version,
            session.address,
            input::show(args.timeout)
        );
    }
    let started = Instant::now();
    let label = format!("instance {key} running");
    let ended = crate::spinner::while_waiting(
        &label,
        wait_for_end(session, &mut gateway, key, args.timeout),
    )
    .await?;
    if !ended {
        return Err(Error::Refused {
            sentence: format!(
                "Expected instance {key} to end within {}, but it is still running (or held by an incident). {incidents}",
                input::show(args.timeout)
            ),
            code: Code::DeadlineExceeded,
            gateway: String::new(),
        });
    }
    let product = inputs.product();
    if !args.no_local_check && looks_local(&product) && !product.is_file() {
        return Err(Error::Refused {
            sentence: format!(
                "Expected instance {key} to write its product {}, but it ended without it: was it cancelled?",
                product.display()
            ),
            code: Code::NotFound,
            gateway: String::new(),
        });
    }
    let seconds = started.elapsed().as_secs_f64();
    session.print(
        json!({
            "processInstanceKey": key,
            "bpmnProcessId": resource.process_id,
            "version": created.version,
            "product": product,
            "seconds": seconds,
        }),
        || format!("{}", product.display()),
    );
    if !session.json_output() {
        eprintln!("Instance {key} ended after {seconds:.1} s; the product is the line above.");
    }
    Ok(())
}

/// Polls until the instance has ended (`true`) or `timeout` has passed (`false`).
async fn wait_for_end(
    session: &Session,
    gateway: &mut apsis_client::Gateway,
    key: i64,
    timeout: Duration,
) -> Result<bool, Error> {
    let deadline = Instant::now() + timeout;
    let action = Action::new(format!("follow instance {key}")).when(
        Code::PermissionDenied,
        format!(
            "the credentials may start instances but not update them (which following one takes); instance {key} \
             runs on: look for it in Operate"
        ),
    );
    loop {
        let probe = gateway.set_variables(pb::SetVariablesRequest {
            element_instance_key: key,
            variables: "{}".to_owned(),
            local: true,
            ..Default::default()
        });
        match session.call(&action, Some(REQUEST_TIMEOUT), probe).await {
            Ok(_) => {}
            Err(Error::Refused {
                code: Code::NotFound,
                ..
            }) => return Ok(true),
            // A gateway restarting or a connection lost: keep asking until the deadline.
            Err(Error::Unreachable { .. }) => {}
            Err(e) => return Err(e),
        }
        if Instant::now() + POLL_EVERY > deadline {
            return Ok(false);
        }
        tokio::time::sleep(POLL_EVERY).await;
    }
}
