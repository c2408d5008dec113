//! Event appliers: `State::apply` is the one function that changes state. Live processing calls it for every
//! event it writes; replay calls it for every event of the log. Both must reach the same state.

use std::sync::Arc;

use super::*;
use crate::event::Event;

impl State {
    pub fn apply(&mut self, event: &Event) {
        match event {
            Event::ProcessDeployed {
                key,
                deployment_key,
                bpmn_process_id,
                version,
                resource_name,
                checksum,
                resource,
            } => {
                self.keys.observe(*key);
                // Processes of one resource share the text and compile once.
                let shared = self
                    .deployments
                    .processes
                    .values()
                    .find(|p| {
                        p.deployment_key == *deployment_key && p.resource_name == *resource_name
                    })
                    .map(|p| p.resource.clone());
                let resource: Arc<str> = shared.unwrap_or_else(|| Arc::from(resource.as_str()));
                let graph = apsis_bpmn::compile(resource_name, &resource)
                    .ok()
                    .and_then(|c| {
                        c.processes
                            .into_iter()
                            .find(|g| g.bpmn_process_id == *bpmn_process_id)
                    })
                    .map(Arc::new);
                self.deployments.processes.insert(
                    *key,
                    DeployedProcess {
                        key: *key,
                        deployment_key: *deployment_key,
                        bpmn_process_id: bpmn_process_id.clone(),
                        version: *version,
                        resource_name: resource_name.clone(),
                        checksum: *checksum,
                        resource,
                        graph,
                    },
                );
                let versions = self
                    .deployments
                    .by_id
                    .entry(bpmn_process_id.clone())
                    .or_default();
                versions.push((*version, *key));
                versions.sort();
                let max = self
                    .deployments
                    .max_version
                    .entry(bpmn_process_id.clone())
                    .or_default();
                *max = (*max).max(*version);
            }
            Event::ProcessDeleted { key } => {
                // A definition is deleted only without live instances; its counts go with it.
                self.instance_counts.remove(key);
                if let Some(p) = self.deployments.processes.remove(key) {
                    if let Some(v) = self.deployments.by_id.get_mut(&p.bpmn_process_id) {
                        v.retain(|(_, k)| k != key);
                        if v.is_empty() {
                            self.deployments.by_id.remove(&p.bpmn_process_id);
                        }
                    }
                }
            }
            Event::DeploymentCreated { key } => self.keys.observe(*key),
            Event::ProcessInstanceCreated {
                key, await_result, ..
            } => {
                self.keys.observe(*key);
                if let Some(i) = self.instances.get_mut(key) {
                    i.await_result = *await_result;
                }
            }
            Event::MultiInstanceItems { key, items } => {
                if let Some(i) = self.instances.get_mut(key) {
                    i.multi_instance = Some(Box::new(MultiInstanceState {
                        items: items.clone(),
                        started: 0,
                        completed: 0,
                        condition_met: false,
                        counters: Vec::new(),
                    }));
                }
            }
            Event::ActivationDeferred {
                key,
                element,
                variables,
            } => {
                if let Some(i) = self.instances.get_mut(key) {
                    i.after_terminate = Some(Box::new(Deferred {
                        element: *element,
                        variables: variables.clone(),
                    }));
                }
            }
            Event::MultiInstanceConditionMet { key } => {
                if let Some(mi) = self
                    .instances
                    .get_mut(key)
                    .and_then(|i| i.multi_instance.as_mut())
                {
                    mi.condition_met = true;
                }
            }
            Event::FlowScopeInterrupted { key } => {
                if let Some(i) = self.instances.get_mut(key) {
                    i.interrupted = true;
                    i.tokens = 0;
                    i.joins.clear();
                }
            }
            Event::ElementActivating { key, at, via_flow } => {
                self.keys.observe(*key);
                if at.flow_scope_key == Key::NONE {
                    self.count_started(at.process_definition_key);
                }
                if let Some(scope) = self.instances.get_mut(&at.flow_scope_key) {
                    scope.children.push(*key);
                    if *via_flow {
                        scope.tokens = scope.tokens.saturating_sub(1);
                    }
                    if let Some(mi) = &mut scope.multi_instance {
                        mi.started += 1;
                        mi.counters.push((*key, mi.started));
                    }
                }
                self.instances.insert(
                    *key,
                    ElementInstance {
                        key: *key,
                        at: at.clone(),
                        state: Lifecycle::Activating,
                        children: Vec::new(),
                        tokens: 0,
                        joins: Vec::new(),
                        interrupted: false,
                        after_terminate: None,
                        multi_instance: None,
                        job: None,
                        await_result: false,
                        started_by_correlation: None,
                    },
                );
            }
            Event::ElementActivated { key } => self.set_lifecycle(*key, Lifecycle::Activated),
            Event::ElementCompleting { key } => self.set_lifecycle(*key, Lifecycle::Completing),
            Event::ElementTerminating { key } => {
                self.set_lifecycle(*key, Lifecycle::Terminating);
                if let Some(i) = self.instances.get_mut(key) {
                    i.tokens = 0;
                    i.joins.clear();
                }
            }
            Event::ElementCompleted { key } => {
                self.count_ended(*key, |c| &mut c.completed);
                self.remove_instance(*key)
            }
            Event::ElementTerminated { key } => {
                self.count_ended(*key, |c| &mut c.terminated);
                self.remove_instance(*key)
            }
            Event::SequenceFlowTaken {
                key,
                flow_scope_key,
                flow,
            } => {
                self.keys.observe(*key);
                let join_target = self.join_target(*flow_scope_key, *flow);
                if let Some(scope) = self.instances.get_mut(flow_scope_key) {
                    scope.tokens += 1;
                    if join_target {
                        match scope.joins.binary_search_by_key(flow, |(f, _)| *f) {
                            Ok(i) => scope.joins[i].1 += 1,
                            Err(i) => scope.joins.insert(i, (*flow, 1)),
                        }
                    }
                }
            }
            Event::GatewayJoined {
                flow_scope_key,
                gateway,
            } => {
                let incoming = self.incoming_flows(*flow_scope_key, *gateway);
                if let Some(scope) = self.instances.get_mut(flow_scope_key) {
                    for f in &incoming {
                        if let Ok(i) = scope.joins.binary_search_by_key(f, |(f, _)| *f) {
                            scope.joins[i].1 -= 1;
                            if scope.joins[i].1 == 0 {
                                scope.joins.remove(i);
                            }
                        }
                    }
                    // All but one token are consumed here; the gateway's activation consumes the last.
                    scope.tokens = scope
                        .tokens
                        .saturating_sub(incoming.len().saturating_sub(1) as u32);
                }
            }
            Event::VariableCreated {
                key,
                scope_key,
                name,
                value,
            } => {
                self.keys.observe(*key);
                self.variables
                    .entry(*scope_key)
                    .or_default()
                    .push(Variable {
                        key: *key,
                        name: name.clone(),
                        value: value.clone(),
                    });
            }
            Event::VariableUpdated {
                scope_key,
                name,
                value,
                ..
            } => {
                if let Some(v) = self
                    .variables
                    .get_mut(scope_key)
                    .and_then(|vars| vars.iter_mut().find(|v| v.name == *name))
                {
                    v.value = value.clone();
                }
            }
            Event::JobCreated { key, job } => {
                self.keys.observe(*key);
                self.jobs.by_key.insert(
                    *key,
                    Job {
                        key: *key,
                        record: job.clone(),
                        state: JobState::Failed,
                        worker: String::new(),
                        deadline: 0,
                        error_message: String::new(),
                        backoff_until: 0,
                    },
                );
                self.jobs.set_state(*key, JobState::Activatable);
                if let Some(i) = self.instances.get_mut(&job.element_instance_key) {
                    i.job = Some(*key);
                }
            }
            Event::JobActivated {
                key,
                worker,
                deadline,
            } => {
                self.jobs.transition(*key, JobState::Activated, |j| {
                    j.worker.clone_from(worker);
                    j.deadline = *deadline;
                });
            }
            Event::JobCompleted { key } | Event::JobCanceled { key } => {
                if let Some(job) = self.jobs.remove(*key) {
                    if let Some(i) = self.instances.get_mut(&job.record.element_instance_key) {
                        i.job = None;
                    }
                }
            }
            Event::JobFailed {
                key,
                retries,
                error_message,
                backoff_until,
            } => {
                let next = if *retries <= 0 {
                    JobState::Failed
                } else if *backoff_until > 0 {
                    JobState::BackingOff
                } else {
                    JobState::Activatable
                };
                self.jobs.transition(*key, next, |j| {
                    j.record.retries = *retries;
                    j.error_message.clone_from(error_message);
                    j.backoff_until = *backoff_until;
                });
            }
            Event::JobRecurred { key } | Event::JobTimedOut { key } | Event::JobYielded { key } => {
                self.jobs.set_state(*key, JobState::Activatable);
            }
            Event::JobRetriesUpdated { key, retries } => {
                if let Some(j) = self.jobs.by_key.get_mut(key) {
                    j.record.retries = *retries;
                }
            }
            Event::JobTimeoutUpdated { key, deadline } => {
                let activated = self.jobs.get(*key).map(|j| j.state) == Some(JobState::Activated);
                if activated {
                    self.jobs
                        .transition(*key, JobState::Activated, |j| j.deadline = *deadline);
                }
            }
            Event::JobErrorThrown {
                key, error_message, ..
            } => {
                self.jobs.transition(*key, JobState::ErrorThrown, |j| {
                    j.error_message.clone_from(error_message)
                });
            }
            Event::IncidentCreated { key, incident } => {
                self.keys.observe(*key);
                self.incidents
                    .by_element
                    .insert(incident.element_instance_key, *key);
                self.incidents.by_key.insert(*key, incident.clone());
            }
            Event::IncidentResolved { key } => {
                if let Some(i) = self.incidents.by_key.remove(key) {
                    if self.incidents.by_element.get(&i.element_instance_key) == Some(key) {
                        self.incidents.by_element.remove(&i.element_instance_key);
                    }
                    if let Some(job) = self.jobs.by_key.get(&i.job_key) {
                        if matches!(job.state, JobState::Failed | JobState::ErrorThrown)
                            && job.record.retries > 0
                        {
                            self.jobs.set_state(i.job_key, JobState::Activatable);
                        }
                    }
                }
            }
            Event::TimerCreated { key, timer } => {
                self.keys.observe(*key);
                self.timers.due.insert((timer.due, *key));
                if timer.element_instance_key.is_none() {
                    self.timers
                        .by_definition
                        .entry(timer.process_definition_key)
                        .or_default()
                        .push(*key);
                } else {
                    self.timers
                        .by_element
                        .entry(timer.element_instance_key)
                        .or_default()
                        .push(*key);
                }
                self.timers.by_key.insert(*key, timer.clone());
            }
            Event::TimerTriggered { key } | Event::TimerCanceled { key } => self.remove_timer(*key),
            Event::MessagePublished { key, message } => {
                self.keys.observe(*key);
                self.messages.deadlines.insert((message.deadline, *key));
                self.messages
                    .by_name_key
                    .entry((message.name.clone(), message.correlation_key.clone()))
                    .or_default()
                    .insert(*key);
                if !message.message_id.is_empty() {
                    self.messages.ids.insert(
                        (
                            message.name.clone(),
                            message.correlation_key.clone(),
                            message.message_id.clone(),
                        ),
                        *key,
                    );
                }
                self.messages.by_key.insert(*key, message.clone());
            }
            Event::MessageExpired { key } => self.messages.remove(*key),
            Event::SubscriptionCreated { key, subscription } => {
                self.keys.observe(*key);
                self.subscriptions
                    .by_name_key
                    .entry((
                        subscription.message_name.clone(),
                        subscription.correlation_key.clone(),
                    ))
                    .or_default()
                    .insert(*key);
                self.subscriptions
                    .by_element
                    .entry(subscription.element_instance_key)
                    .or_default()
                    .push(*key);
                self.subscriptions.by_key.insert(*key, subscription.clone());
            }
            Event::SubscriptionCorrelated { key, message_key } => {
                if let Some(s) = self.subscriptions.by_key.get(key) {
                    if self.messages.by_key.contains_key(message_key) {
                        self.messages
                            .correlated
                            .entry(*message_key)
                            .or_default()
                            .push(s.bpmn_process_id.clone());
                    }
                }
                self.subscriptions.remove(*key);
            }
            Event::SubscriptionDeleted { key } => self.subscriptions.remove(*key),
            Event::MessageStartCorrelated {
                message_key,
                process_definition_key,
                process_instance_key,
                correlation_key,
            } => {
                let bpmn_id = self
                    .deployments
                    .get(*process_definition_key)
                    .map(|p| p.bpmn_process_id.clone());
                if let Some(bpmn_id) = bpmn_id {
                    if self.messages.by_key.contains_key(message_key) {
                        self.messages
                            .correlated
                            .entry(*message_key)
                            .or_default()
                            .push(bpmn_id.clone());
                    }
                    if let Some(i) = self.instances.get_mut(process_instance_key) {
                        i.started_by_correlation = Some(correlation_key.clone());
                    }
                    if !correlation_key.is_empty() {
                        self.messages
                            .started_instances
                            .insert((bpmn_id, correlation_key.clone()), *process_instance_key);
                    }
                }
            }
        }
    }

    fn set_lifecycle(&mut self, key: Key, state: Lifecycle) {
        if let Some(i) = self.instances.get_mut(&key) {
            i.state = state;
        }
    }

    fn count_started(&mut self, definition: Key) {
        let deployments = &self.deployments;
        let counts = self.instance_counts.entry(definition).or_insert_with(|| {
            let (bpmn_process_id, version) = deployments
                .get(definition)
                .map(|p| (p.bpmn_process_id.clone(), p.version))
                .unwrap_or_default();
            InstanceCounts {
                bpmn_process_id,
                version,
                ..InstanceCounts::default()
            }
        });
        counts.started += 1;
    }

    /// Counts the end of a process instance (`key` is one); other element instances are not counted.
    fn count_ended(&mut self, key: Key, field: fn(&mut InstanceCounts) -> &mut u64) {
        let Some(at) = self.instances.get(&key).map(|i| &i.at) else {
            return;
        };
        if at.flow_scope_key == Key::NONE {
            if let Some(counts) = self.instance_counts.get_mut(&at.process_definition_key) {
                *field(counts) += 1;
            }
        }
    }

    fn remove_instance(&mut self, key: Key) {
        let Some(instance) = self.instances.remove(&key) else {
            return;
        };
        if let Some(scope) = self.instances.get_mut(&instance.at.flow_scope_key) {
            scope.children.retain(|k| *k != key);
            if let Some(mi) = &mut scope.multi_instance {
                mi.completed += 1;
                mi.counters.retain(|(k, _)| *k != key);
            }
        }
        self.variables.remove(&key);
        if let Some(corr) = &instance.started_by_correlation {
            if let Some(p) = self.deployments.get(instance.at.process_definition_key) {
                let id = (p.bpmn_process_id.clone(), corr.clone());
                if self.messages.started_instances.get(&id) == Some(&key) {
                    self.messages.started_instances.remove(&id);
                }
            }
        }
    }

    fn remove_timer(&mut self, key: Key) {
        if let Some(t) = self.timers.by_key.remove(&key) {
            self.timers.due.remove(&(t.due, key));
            let list = if t.element_instance_key.is_none() {
                self.timers.by_definition.get_mut(&t.process_definition_key)
            } else {
                self.timers.by_element.get_mut(&t.element_instance_key)
            };
            if let Some(list) = list {
                list.retain(|k| *k != key);
            }
            if t.element_instance_key.is_none() {
                if self
                    .timers
                    .by_definition
                    .get(&t.process_definition_key)
                    .is_some_and(|l| l.is_empty())
                {
                    self.timers.by_definition.remove(&t.process_definition_key);
                }
            } else if self
                .timers
                .by_element
                .get(&t.element_instance_key)
                .is_some_and(|l| l.is_empty())
            {
                self.timers.by_element.remove(&t.element_instance_key);
            }
        }
    }

    fn graph_of(&self, flow_scope_key: Key) -> Option<&Arc<apsis_bpmn::ProcessGraph>> {
        let scope = self.instances.get(&flow_scope_key)?;
        self.deployments
            .get(scope.at.process_definition_key)?
            .graph
            .as_ref()
    }

    /// Whether a flow leads to a parallel gateway that joins (more than one incoming flow).
    fn join_target(&self, flow_scope_key: Key, flow: u32) -> bool {
        self.graph_of(flow_scope_key).is_some_and(|g| {
            let target = g.element(g.flow(apsis_bpmn::FlowIdx(flow)).target);
            matches!(target.kind, apsis_bpmn::graph::ElementKind::ParallelGateway)
                && target.incoming.len() > 1
        })
    }

    fn incoming_flows(&self, flow_scope_key: Key, gateway: u32) -> Vec<u32> {
        self.graph_of(flow_scope_key)
            .map(|g| {
                g.element(apsis_bpmn::ElementIdx(gateway))
                    .incoming
                    .iter()
                    .map(|f| f.0)
                    .collect()
            })
            .unwrap_or_default()
    }
}
