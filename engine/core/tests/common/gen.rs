//! Random block-structured processes for the property tests, and the BPMN they render to.
//!
//! A process is a sequence of [`Block`]s; every block has one way in and one way out (splits are merged again, an
//! activity's boundary path either rejoins after it or ends on its own), so every generated process is valid and, if
//! every job is completed, every message published and the clock advanced far enough, every instance completes.
//! A non-interrupting boundary path never rejoins: a second token would reach a parallel join on the same flow
//! twice and (correctly) wait there forever. An interrupting one inside a parallel branch always rejoins: ending it
//! would take the branch's token away from the join, which then (correctly) waits forever.
//!
//! Schedules of client actions ([`Action`]) to drive them with are generated here too.
//!
//! Variables the processes read, set when an instance is created: `x` (number; exclusive conditions, the script
//! task), `y` (number, may be missing: a condition on it then raises an incident), `ck` (the correlation key of every
//! message), `items` (the input collection of every multi-instance activity).

use proptest::collection::vec;
use proptest::option;
use proptest::prelude::*;
use proptest::sample::Index;

use crate::common::{bpmn, flow, service};

pub const JOB_TYPES: [&str; 3] = ["a", "b", "c"];
/// Message names the processes subscribe to; actions also publish names outside this list.
pub const MESSAGES: [&str; 2] = ["m0", "m1"];
/// Error codes the processes define; workers also throw codes outside this list.
pub const ERRORS: [&str; 2] = ["E1", "E2"];

#[derive(Debug, Clone)]
pub enum Block {
    /// `bpmn:task`: activates and completes at once.
    Pass,
    /// `zeebe:script` `= x + 1` into `x`.
    Script,
    /// Intermediate timer catch event with a duration.
    Timer { secs: u32 },
    /// Intermediate message catch event, correlation key `= ck`.
    Message { name: usize },
    Activity {
        activity: Activity,
        boundary: Option<BoundarySpec>,
    },
    /// Exclusive split (conditions tried in order, then the default flow) and merge.
    Exclusive {
        branches: Vec<(Cond, Vec<Block>)>,
        default: Vec<Block>,
    },
    /// Parallel fork and join.
    Parallel { branches: Vec<Vec<Block>> },
}

#[derive(Debug, Clone)]
pub enum Activity {
    Service {
        job_type: usize,
    },
    /// A service task, multi-instance over `items`, collecting `= item` into `results`.
    Multi {
        job_type: usize,
        sequential: bool,
    },
    /// An embedded subprocess, optionally multi-instance over `items` (`Some(sequential)`).
    Sub {
        body: Vec<Block>,
        multi: Option<bool>,
    },
}

/// `= {var} < {below}`.
#[derive(Debug, Clone)]
pub struct Cond {
    pub on_y: bool,
    pub below: i8,
}

#[derive(Debug, Clone)]
pub struct BoundarySpec {
    pub trigger: BoundaryTrigger,
    pub interrupting: bool,
    /// The boundary path merges back after the activity; otherwise it ends. Only when interrupting, and always when
    /// interrupting inside a parallel branch of the same flow scope (see the module docs).
    pub rejoin: bool,
}

#[derive(Debug, Clone)]
pub enum BoundaryTrigger {
    Timer {
        secs: u32,
    },
    /// `R2/PT{secs}S`; only meaningful non-interrupting.
    Cycle {
        secs: u32,
    },
    Message {
        name: usize,
    },
    /// An error code of [`ERRORS`], or `None` for a catch-all. Always interrupting.
    Error {
        code: Option<usize>,
    },
}

fn secs() -> impl Strategy<Value = u32> {
    prop_oneof![Just(5u32), Just(30), Just(90)]
}

fn boundary() -> impl Strategy<Value = BoundarySpec> {
    let trigger = prop_oneof![
        secs().prop_map(|secs| BoundaryTrigger::Timer { secs }),
        secs().prop_map(|secs| BoundaryTrigger::Cycle { secs }),
        (0..MESSAGES.len()).prop_map(|name| BoundaryTrigger::Message { name }),
        option::of(0..ERRORS.len()).prop_map(|code| BoundaryTrigger::Error { code }),
    ];
    (trigger, any::<bool>(), any::<bool>()).prop_map(|(trigger, interrupting, rejoin)| {
        let interrupting = match trigger {
            BoundaryTrigger::Error { .. } => true,
            BoundaryTrigger::Cycle { .. } => false,
            _ => interrupting,
        };
        BoundarySpec {
            trigger,
            interrupting,
            rejoin: rejoin && interrupting,
        }
    })
}

fn cond() -> impl Strategy<Value = Cond> {
    // `y` conditions are rarer: they raise incidents whenever `y` is missing.
    (prop::bool::weighted(0.25), -2i8..6).prop_map(|(on_y, below)| Cond { on_y, below })
}

fn leaf() -> impl Strategy<Value = Block> {
    let job_type = 0..JOB_TYPES.len();
    prop_oneof![
        1 => Just(Block::Pass),
        1 => Just(Block::Script),
        1 => secs().prop_map(|secs| Block::Timer { secs }),
        1 => (0..MESSAGES.len()).prop_map(|name| Block::Message { name }),
        3 => job_type.clone().prop_map(|job_type| Block::Activity {
            activity: Activity::Service { job_type },
            boundary: None,
        }),
        2 => (job_type.clone(), boundary()).prop_map(|(job_type, b)| Block::Activity {
            activity: Activity::Service { job_type },
            boundary: Some(b),
        }),
        1 => (job_type, any::<bool>(), option::weighted(0.3, boundary())).prop_map(
            |(job_type, sequential, boundary)| Block::Activity {
                activity: Activity::Multi {
                    job_type,
                    sequential
                },
                boundary,
            }
        ),
    ]
}

/// A block: a leaf, or a split/merge or subprocess around nested sequences (nesting depth at most 3).
pub fn block() -> impl Strategy<Value = Block> {
    leaf().prop_recursive(3, 12, 3, |inner| {
        let seq = vec(inner, 0..=2);
        prop_oneof![
            (vec((cond(), seq.clone()), 1..=2), seq.clone())
                .prop_map(|(branches, default)| Block::Exclusive { branches, default }),
            vec(seq.clone(), 2..=3).prop_map(|branches| Block::Parallel { branches }),
            (
                seq,
                option::weighted(0.25, any::<bool>()),
                option::weighted(0.4, boundary())
            )
                .prop_map(|(body, multi, boundary)| Block::Activity {
                    activity: Activity::Sub { body, multi },
                    boundary,
                }),
        ]
    })
}

/// The body of a process: one to four blocks.
pub fn process() -> impl Strategy<Value = Vec<Block>> {
    vec(block(), 1..=4)
}

/// Renders the blocks as a deployable BPMN file with process id `process_id`.
pub fn render(process_id: &str, blocks: &[Block]) -> String {
    let mut w = Writer::default();
    w.scope_body(blocks);
    let mut roots = String::new();
    for m in MESSAGES {
        roots.push_str(&format!(
            r#"<bpmn:message id="Msg_{m}" name="{m}"><bpmn:extensionElements><zeebe:subscription correlationKey="= ck" /></bpmn:extensionElements></bpmn:message>"#
        ));
    }
    for e in ERRORS {
        roots.push_str(&format!(
            r#"<bpmn:error id="Err_{e}" name="{e}" errorCode="{e}" />"#
        ));
    }
    bpmn(process_id, &w.out, &roots)
}

/// A sequence flow whose source is written and whose target is not known yet.
struct Edge {
    id: String,
    from: String,
    condition: Option<String>,
}

#[derive(Default)]
struct Writer {
    next: usize,
    out: String,
    /// Inside a branch of a parallel fork of the current flow scope.
    in_parallel: bool,
}

impl Writer {
    fn id(&mut self, prefix: &str) -> String {
        self.next += 1;
        format!("{prefix}{}", self.next)
    }

    fn edge(&mut self, from: &str) -> Edge {
        Edge {
            id: self.id("f"),
            from: from.to_owned(),
            condition: None,
        }
    }

    fn connect(&mut self, e: Edge, to: &str) {
        let Edge {
            id,
            from,
            condition,
        } = e;
        match condition {
            None => self.out.push_str(&flow(&id, &from, to)),
            Some(c) => self.out.push_str(&format!(
                r#"<bpmn:sequenceFlow id="{id}" sourceRef="{from}" targetRef="{to}"><bpmn:conditionExpression>{c}</bpmn:conditionExpression></bpmn:sequenceFlow>"#
            )),
        }
    }

    /// A flow scope's content: none start event, the blocks, none end event.
    fn scope_body(&mut self, blocks: &[Block]) {
        let start = self.id("start");
        let end = self.id("end");
        self.out
            .push_str(&format!(r#"<bpmn:startEvent id="{start}" />"#));
        let first = self.edge(&start);
        let last = self.seq(blocks, first);
        self.out
            .push_str(&format!(r#"<bpmn:endEvent id="{end}" />"#));
        self.connect(last, &end);
    }

    fn seq(&mut self, blocks: &[Block], incoming: Edge) -> Edge {
        blocks.iter().fold(incoming, |e, b| self.block(b, e))
    }

    /// Writes one element with the incoming flow and returns the edge leaving it.
    fn simple(&mut self, prefix: &str, incoming: Edge, xml: impl FnOnce(&str) -> String) -> Edge {
        let id = self.id(prefix);
        let text = xml(&id);
        self.out.push_str(&text);
        self.connect(incoming, &id);
        self.edge(&id)
    }

    fn block(&mut self, b: &Block, incoming: Edge) -> Edge {
        match b {
            Block::Pass => self.simple("task", incoming, |id| format!(r#"<bpmn:task id="{id}" />"#)),
            Block::Script => self.simple("script", incoming, |id| {
                format!(
                    r#"<bpmn:scriptTask id="{id}"><bpmn:extensionElements><zeebe:script expression="= x + 1" resultVariable="x" /></bpmn:extensionElements></bpmn:scriptTask>"#
                )
            }),
            Block::Timer { secs } => self.simple("timer", incoming, |id| {
                format!(
                    r#"<bpmn:intermediateCatchEvent id="{id}"><bpmn:timerEventDefinition><bpmn:timeDuration>PT{secs}S</bpmn:timeDuration></bpmn:timerEventDefinition></bpmn:intermediateCatchEvent>"#
                )
            }),
            Block::Message { name } => self.simple("catch", incoming, |id| {
                format!(
                    r#"<bpmn:intermediateCatchEvent id="{id}"><bpmn:messageEventDefinition messageRef="Msg_{}" /></bpmn:intermediateCatchEvent>"#,
                    MESSAGES[*name]
                )
            }),
            Block::Activity { activity, boundary } => {
                let id = self.activity(activity, incoming);
                match boundary {
                    None => self.edge(&id),
                    Some(spec) => self.boundary(&id, spec),
                }
            }
            Block::Exclusive { branches, default } => {
                let split = self.id("split");
                let merge = self.id("merge");
                let default_edge = self.edge(&split);
                self.out.push_str(&format!(
                    r#"<bpmn:exclusiveGateway id="{split}" default="{}" />"#,
                    default_edge.id
                ));
                self.connect(incoming, &split);
                for (c, body) in branches {
                    let mut e = self.edge(&split);
                    let var = if c.on_y { "y" } else { "x" };
                    e.condition = Some(format!("= {var} &lt; {}", c.below));
                    let out = self.seq(body, e);
                    self.connect(out, &merge);
                }
                let out = self.seq(default, default_edge);
                self.connect(out, &merge);
                self.out
                    .push_str(&format!(r#"<bpmn:exclusiveGateway id="{merge}" />"#));
                self.edge(&merge)
            }
            Block::Parallel { branches } => {
                let fork = self.id("fork");
                let join = self.id("join");
                self.out
                    .push_str(&format!(r#"<bpmn:parallelGateway id="{fork}" />"#));
                self.connect(incoming, &fork);
                let outer = std::mem::replace(&mut self.in_parallel, true);
                for body in branches {
                    let e = self.edge(&fork);
                    let out = self.seq(body, e);
                    self.connect(out, &join);
                }
                self.in_parallel = outer;
                self.out
                    .push_str(&format!(r#"<bpmn:parallelGateway id="{join}" />"#));
                self.edge(&join)
            }
        }
    }

    fn activity(&mut self, a: &Activity, incoming: Edge) -> String {
        const LOOP: &str = r#"<bpmn:extensionElements><zeebe:loopCharacteristics inputCollection="= items" inputElement="item" outputCollection="results" outputElement="= item" /></bpmn:extensionElements></bpmn:multiInstanceLoopCharacteristics>"#;
        let multi = |sequential: bool| {
            format!(r#"<bpmn:multiInstanceLoopCharacteristics isSequential="{sequential}">{LOOP}"#)
        };
        match a {
            Activity::Service { job_type } => {
                let id = self.id("service");
                self.out.push_str(&service(&id, JOB_TYPES[*job_type]));
                self.connect(incoming, &id);
                id
            }
            Activity::Multi {
                job_type,
                sequential,
            } => {
                let id = self.id("multi");
                self.out.push_str(&format!(
                    r#"<bpmn:serviceTask id="{id}"><bpmn:extensionElements><zeebe:taskDefinition type="{}" /></bpmn:extensionElements>{}</bpmn:serviceTask>"#,
                    JOB_TYPES[*job_type],
                    multi(*sequential)
                ));
                self.connect(incoming, &id);
                id
            }
            Activity::Sub { body, multi: m } => {
                let id = self.id("sub");
                self.connect(incoming, &id);
                self.out
                    .push_str(&format!(r#"<bpmn:subProcess id="{id}">"#));
                if let Some(sequential) = m {
                    self.out.push_str(&multi(*sequential));
                }
                let outer = std::mem::replace(&mut self.in_parallel, false);
                self.scope_body(body);
                self.in_parallel = outer;
                self.out.push_str("</bpmn:subProcess>");
                id
            }
        }
    }

    /// Attaches a boundary event to `activity`; returns the edge leaving the block.
    fn boundary(&mut self, activity: &str, spec: &BoundarySpec) -> Edge {
        let b = self.id("boundary");
        let definition = match &spec.trigger {
            BoundaryTrigger::Timer { secs } => format!(
                "<bpmn:timerEventDefinition><bpmn:timeDuration>PT{secs}S</bpmn:timeDuration></bpmn:timerEventDefinition>"
            ),
            BoundaryTrigger::Cycle { secs } => format!(
                "<bpmn:timerEventDefinition><bpmn:timeCycle>R2/PT{secs}S</bpmn:timeCycle></bpmn:timerEventDefinition>"
            ),
            BoundaryTrigger::Message { name } => format!(
                r#"<bpmn:messageEventDefinition messageRef="Msg_{}" />"#,
                MESSAGES[*name]
            ),
            BoundaryTrigger::Error { code: Some(c) } => {
                format!(r#"<bpmn:errorEventDefinition errorRef="Err_{}" />"#, ERRORS[*c])
            }
            BoundaryTrigger::Error { code: None } => "<bpmn:errorEventDefinition />".to_owned(),
        };
        self.out.push_str(&format!(
            r#"<bpmn:boundaryEvent id="{b}" attachedToRef="{activity}" cancelActivity="{}">{definition}</bpmn:boundaryEvent>"#,
            spec.interrupting
        ));
        let from_activity = self.edge(activity);
        let from_boundary = self.edge(&b);
        if spec.rejoin || (spec.interrupting && self.in_parallel) {
            let merge = self.id("merge");
            self.out
                .push_str(&format!(r#"<bpmn:exclusiveGateway id="{merge}" />"#));
            self.connect(from_activity, &merge);
            self.connect(from_boundary, &merge);
            self.edge(&merge)
        } else {
            let end = self.id("end");
            self.out
                .push_str(&format!(r#"<bpmn:endEvent id="{end}" />"#));
            self.connect(from_boundary, &end);
            from_activity
        }
    }
}

// Schedules ----------------------------------------------------------------------------------------------------

/// Other variables a job result may set: the loop variables (local to an inner instance), the output collection,
/// the correlation key.
pub const EXTRA_RESULTS: [&str; 4] = ["item", "loopCounter", "results", "ck"];

/// A client action. Jobs, incidents and instances are picked with an [`Index`] among those that exist when the
/// action runs (an action with nothing to pick does nothing), so a schedule stays meaningful while it shrinks.
#[derive(Debug, Clone)]
pub enum Action {
    Create {
        x: i8,
        y: Option<i8>,
        ck: u8,
        items: u8,
    },
    Activate {
        job_type: usize,
        max: i32,
    },
    Complete {
        job: Index,
        x: Option<i8>,
        /// A second result variable: an index into [`EXTRA_RESULTS`] and its value.
        extra: Option<(usize, i8)>,
        /// Also jobs that are activatable (never activated, or timed out), as Zeebe allows.
        any_state: bool,
    },
    Fail {
        job: Index,
        retries: i32,
        backoff: bool,
    },
    Throw {
        job: Index,
        /// An index into [`ERRORS`], or one past it: a code no boundary catches by name.
        code: usize,
    },
    Publish {
        /// An index into [`MESSAGES`], or one past it: a name nobody subscribes to.
        name: usize,
        ck: u8,
        buffered: bool,
        x: Option<i8>,
    },
    Advance {
        ms: i64,
    },
    Resolve {
        incident: Index,
        retries: i32,
    },
    Cancel {
        instance: Index,
    },
    /// A command that must be rejected without any event: on a gone job or instance, or a job in the wrong state.
    Invalid {
        pick: Index,
    },
}

pub fn create() -> impl Strategy<Value = Action> {
    (
        -3i8..8,
        proptest::option::weighted(0.7, -3i8..8),
        0u8..3,
        0u8..4,
    )
        .prop_map(|(x, y, ck, items)| Action::Create { x, y, ck, items })
}

/// A schedule: one to three instances created, then random actions.
pub fn schedule() -> impl Strategy<Value = Vec<Action>> {
    use proptest::collection::vec;
    (vec(create(), 1..=3), vec(action(), 0..30)).prop_map(|(mut first, rest)| {
        first.extend(rest);
        first
    })
}

pub fn action() -> impl Strategy<Value = Action> {
    prop_oneof![
        2 => create(),
        4 => (0..JOB_TYPES.len(), 1i32..4).prop_map(|(job_type, max)| Action::Activate { job_type, max }),
        4 => (
            any::<Index>(),
            proptest::option::of(-3i8..8),
            proptest::option::weighted(0.3, (0..EXTRA_RESULTS.len(), -3i8..8)),
            prop::bool::weighted(0.2),
        )
            .prop_map(|(job, x, extra, any_state)| Action::Complete { job, x, extra, any_state }),
        2 => (any::<Index>(), 0i32..3, any::<bool>())
            .prop_map(|(job, retries, backoff)| Action::Fail { job, retries, backoff }),
        2 => (any::<Index>(), 0..=ERRORS.len()).prop_map(|(job, code)| Action::Throw { job, code }),
        2 => (0..=MESSAGES.len(), 0u8..4, any::<bool>(), proptest::option::of(-3i8..8))
            .prop_map(|(name, ck, buffered, x)| Action::Publish { name, ck, buffered, x }),
        2 => prop_oneof![Just(1_000i64), Just(5_000), Just(30_000), Just(61_000), Just(300_000)]
            .prop_map(|ms| Action::Advance { ms }),
        2 => (any::<Index>(), 1i32..3).prop_map(|(incident, retries)| Action::Resolve { incident, retries }),
        1 => any::<Index>().prop_map(|instance| Action::Cancel { instance }),
        1 => any::<Index>().prop_map(|pick| Action::Invalid { pick }),
    ]
}
