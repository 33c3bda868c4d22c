//! Time and the task lifecycle: a tick moves comebacks (rebooted hosts, shutting-down
//! guests) and every running task one step; a task's effect applies when its steps are done
//! (or its injected failure ends it in error); timeouts use the real clock.
use std::time::Instant;

use super::model::LabObject;
use super::{now_text, refuse, Comeback, Effect, LabTask, LabTaskState, Refusal, Work, World, DEFAULT_STEPS};

impl World {
    /// One step of everything that takes time.
    pub(crate) fn tick(&mut self) {
        self.ticks += 1;
        // Comebacks first, so a host rebooted by this tick's task step stays down for its
        // whole downtime.
        let rebooting: Vec<String> =
            self.hosts.iter().filter(|(_, h)| h.down.is_some()).map(|(k, _)| k.clone()).collect();
        for h in rebooting {
            let due = self.hosts.get_mut(&h).and_then(|x| x.down.as_mut()).is_some_and(Comeback::tick);
            if due {
                self.host_back(&h);
            }
        }
        let stopping: Vec<String> =
            self.vms.iter().filter(|(_, v)| v.shutdown.is_some()).map(|(k, _)| k.clone()).collect();
        for vm in stopping {
            let due = self.vms.get_mut(&vm).and_then(|x| x.shutdown.as_mut()).is_some_and(Comeback::tick);
            if due {
                self.guest_off(&vm);
            }
        }
        let running: Vec<u64> = self
            .tasks
            .iter()
            .filter(|(_, t)| matches!(t.state, LabTaskState::Running | LabTaskState::Queued))
            .map(|(n, _)| *n)
            .collect();
        for n in running {
            self.step(n);
        }
        self.check_deadlines();
    }

    /// What real time decides: task timeouts and comebacks measured in time.
    pub(crate) fn check_deadlines(&mut self) {
        let now = Instant::now();
        let late: Vec<u64> = self
            .tasks
            .iter()
            .filter(|(_, t)| matches!(t.state, LabTaskState::Running | LabTaskState::Queued))
            .filter(|(_, t)| t.deadline.is_some_and(|d| now >= d))
            .map(|(n, _)| *n)
            .collect();
        for n in late {
            self.finish(n, Err(refuse("Timeout", "Operation timed out.")));
        }
        let back: Vec<String> = self
            .hosts
            .iter()
            .filter(|(_, h)| h.down.is_some_and(|d| d.due_by_clock()))
            .map(|(k, _)| k.clone())
            .collect();
        for h in back {
            self.host_back(&h);
        }
        let off: Vec<String> = self
            .vms
            .iter()
            .filter(|(_, v)| v.shutdown.is_some_and(|d| d.due_by_clock()))
            .map(|(k, _)| k.clone())
            .collect();
        for vm in off {
            self.guest_off(&vm);
        }
    }

    pub(super) fn host_back(&mut self, host: &str) {
        if let Some(h) = self.hosts.get_mut(host) {
            h.down = None;
            h.connection = "connected";
            h.power = "poweredOn";
            h.boot_time = now_text();
        }
        self.render_host(host);
    }

    pub(super) fn guest_off(&mut self, vm: &str) {
        if let Some(v) = self.vms.get_mut(vm) {
            v.shutdown = None;
            if v.power == "poweredOn" {
                v.power = "poweredOff";
                v.tools = false;
            }
        }
        self.vm_changed(vm);
    }

    pub(super) fn step(&mut self, n: u64) {
        enum Next {
            Render(String),
            Complete(Effect, Option<Refusal>),
            Evacuate(String, usize, usize, Option<Refusal>),
            Nothing,
        }
        let Some(task) = self.tasks.get_mut(&n) else { return };
        if task.state == LabTaskState::Queued {
            task.state = LabTaskState::Running;
            task.start_time = Some(now_text());
        }
        let next = match &mut task.work {
            Work::Done => Next::Nothing,
            Work::Steps { left, total, effect, fail } => {
                *left = left.saturating_sub(1);
                let done = *total - (*left).min(*total);
                task.progress = Some((done * 100 / (*total).max(1)).min(99) as u8);
                if *left > 0 {
                    Next::Render(task.moid.clone())
                } else {
                    Next::Complete(effect.clone(), fail.clone())
                }
            }
            Work::Evacuate { host, total, moved, fail } => Next::Evacuate(host.clone(), *total, *moved, fail.clone()),
        };
        match next {
            Next::Nothing => {}
            Next::Render(moid) => self.render_task(&moid),
            Next::Complete(effect, fail) => {
                let outcome = match fail {
                    Some(f) => Err(f),
                    None => self.apply(effect),
                };
                self.finish(n, outcome);
            }
            Next::Evacuate(_, _, _, Some(f)) => self.finish(n, Err(f)),
            Next::Evacuate(host, total, moved, None) => self.evacuate_step(n, &host, total, moved),
        }
    }

    pub(super) fn apply(&mut self, effect: Effect) -> Result<(), Refusal> {
        match effect {
            Effect::Power(vm, state) => {
                if let Some(v) = self.vms.get_mut(&vm) {
                    v.power = state;
                    v.tools = state == "poweredOn";
                    v.shutdown = None;
                }
                self.vm_changed(&vm);
            }
            Effect::Relocate(vm, target) => {
                if !self.usable_target(&target) {
                    return Err(refuse("InvalidState", "The destination host is not available for migration."));
                }
                self.move_vm(&vm, &target);
            }
            Effect::ExitMaintenance(host) => {
                if let Some(h) = self.hosts.get_mut(&host) {
                    h.in_mm = false;
                }
                self.render_host(&host);
            }
            Effect::Reboot(host) => {
                let downtime = Comeback::new(self.reboot_downtime);
                if let Some(h) = self.hosts.get_mut(&host) {
                    h.connection = "notResponding";
                    h.power = "unknown";
                    h.down = Some(downtime);
                }
                for vm in self.vms_on(&host) {
                    if let Some(v) = self.vms.get_mut(&vm) {
                        if v.power == "poweredOn" {
                            v.power = "poweredOff";
                            v.tools = false;
                        }
                        v.shutdown = None;
                    }
                    self.render_vm(&vm);
                }
                self.render_host(&host);
            }
        }
        Ok(())
    }

    pub(super) fn finish(&mut self, n: u64, outcome: Result<(), Refusal>) {
        let Some(t) = self.tasks.get_mut(&n) else { return };
        match outcome {
            Ok(()) => {
                t.state = LabTaskState::Success;
                t.progress = Some(100);
            }
            Err(e) => {
                t.state = LabTaskState::Error;
                t.error = Some(e);
            }
        }
        t.cancelable = false;
        t.complete_time = Some(now_text());
        t.start_time.get_or_insert_with(now_text);
        let evacuated = match std::mem::replace(&mut t.work, Work::Done) {
            Work::Evacuate { host, .. } => Some(host),
            _ => None,
        };
        let moid = t.moid.clone();
        self.render_task(&moid);
        if let Some(host) = evacuated {
            if let Some(h) = self.hosts.get_mut(&host) {
                h.entering = None;
            }
            self.render_host(&host);
            if let Some(c) = self.cluster_of(&host) {
                self.refresh_faults(&c);
                self.render_cluster(&c);
            }
        }
    }

    pub(super) fn task_mut(&mut self, moid: &str) -> Option<&mut LabTask> {
        let n = self.task_ids.get(moid)?;
        self.tasks.get_mut(n)
    }

    pub(super) fn steps_task(
        &mut self,
        method: &str,
        description_id: &str,
        kind: &'static str,
        target: &str,
        effect: Effect,
    ) -> String {
        let total = self.task_steps.get(method).copied().unwrap_or(DEFAULT_STEPS);
        let fail = self.take_failure(method, target, false);
        let work = Work::Steps { left: total, total: total.max(1), effect, fail };
        let moid = self.new_task(method, description_id, kind, target, work);
        if total == 0 {
            // Finishes before it is answered, as vcsim's tasks do.
            if let Some(n) = self.task_ids.get(&moid).copied() {
                self.step(n);
            }
        }
        moid
    }

    pub(super) fn new_task(
        &mut self,
        method: &str,
        description_id: &str,
        kind: &'static str,
        target: &str,
        work: Work,
    ) -> String {
        let n = self.next_task;
        self.next_task += 1;
        let moid = format!("task-{}", 1000 + n);
        let entity_name = match kind {
            "HostSystem" => self.hosts.get(target).map(|h| h.name.clone()),
            _ => self.vms.get(target).map(|v| v.name.clone()),
        }
        .unwrap_or_else(|| target.to_owned());
        let now = now_text();
        let task = LabTask {
            moid: moid.clone(),
            method: method.to_owned(),
            description_id: description_id.to_owned(),
            entity_kind: kind,
            entity: target.to_owned(),
            entity_name,
            state: LabTaskState::Running,
            progress: Some(0),
            error: None,
            cancelled: false,
            cancelable: true,
            queue_time: now.clone(),
            start_time: Some(now),
            complete_time: None,
            chain: 5000 + n,
            work,
            deadline: None,
        };
        self.tasks.insert(n, task);
        self.task_ids.insert(moid.clone(), n);
        self.index.insert(moid.clone(), self.objects.len());
        self.objects.push(LabObject { kind: "Task", moid: moid.clone(), props: Vec::new() });
        self.render_task(&moid);
        moid
    }
}
