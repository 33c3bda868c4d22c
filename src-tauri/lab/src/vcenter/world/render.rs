//! The properties the lab serves, rendered from the simulation: a VM's power, host,
//! datastore and devices, a host's state, a cluster's configuration and `drsFault`, a task's
//! `TaskInfo` and its entity's `recentTask`; every changed value bumps the change version.
use super::model;
use super::{esc, LabBlock, LabTaskState, World};

impl World {
    pub(super) fn put(&mut self, moid: &str, path: &'static str, val: String) {
        let Some(&i) = self.index.get(moid) else { return };
        if self.objects[i].put(path, val) {
            self.version += 1;
            self.changes.push((self.version, i, path));
        }
    }

    pub(super) fn vm_changed(&mut self, vm: &str) {
        self.render_vm(vm);
        if let Some(host) = self.vms.get(vm).map(|v| v.host.clone()) {
            if let Some(c) = self.cluster_of(&host) {
                self.refresh_faults(&c);
                self.render_cluster(&c);
            }
        }
    }

    pub(super) fn render_vm(&mut self, vm: &str) {
        let Some(v) = self.vms.get(vm).cloned() else { return };
        let block = v.block.as_ref().map(|b| b.0);
        let datastore = match block {
            Some(LabBlock::LocalStorage) => {
                self.hosts.get(&v.host).map(|h| h.local_ds.clone()).unwrap_or(v.home_ds.clone())
            }
            _ => v.home_ds.clone(),
        };
        let mut devices = v.base_devices.clone();
        let extra = match block {
            Some(LabBlock::PassthroughDevice) => Some(
                "<VirtualDevice xsi:type=\"VirtualPCIPassthrough\"><key>13000</key><deviceInfo><label>PCI device 0</label>\
                 <summary>NVIDIA Tesla T4</summary></deviceInfo><backing xsi:type=\"VirtualPCIPassthroughDeviceBackingInfo\">\
                 <deviceName>NVIDIA Tesla T4</deviceName><id>0000:3b:00.0</id><deviceId>1eb8</deviceId><systemId>5f1a</systemId>\
                 <vendorId>4318</vendorId></backing><controllerKey>100</controllerKey><unitNumber>18</unitNumber></VirtualDevice>",
            ),
            Some(LabBlock::UsbDevice) => Some(
                "<VirtualDevice xsi:type=\"VirtualUSB\"><key>14000</key><deviceInfo><label>USB 1</label><summary>Host USB device</summary>\
                 </deviceInfo><backing xsi:type=\"VirtualUSBUSBBackingInfo\"><deviceName>path:1/0/4 version:2</deviceName></backing>\
                 <connectable><startConnected>true</startConnected><allowGuestControl>false</allowGuestControl><connected>true</connected>\
                 <status>ok</status></connectable><controllerKey>7000</controllerKey><unitNumber>0</unitNumber><connected>true</connected>\
                 </VirtualDevice>",
            ),
            _ => None,
        };
        if let (Some(extra), Some(at)) = (extra, devices.rfind("</val>")) {
            devices.insert_str(at, extra);
        }
        let running = v.tools && v.power == "poweredOn";
        self.put(vm, "runtime.powerState", model::typed("VirtualMachinePowerState", v.power));
        self.put(vm, "runtime.host", model::moref("HostSystem", &v.host));
        self.put(vm, "datastore", model::morefs("Datastore", [&datastore]));
        self.put(vm, "config.hardware.device", devices);
        self.put(
            vm,
            "runtime.faultToleranceState",
            model::typed(
                "VirtualMachineFaultToleranceState",
                if block == Some(LabBlock::FaultTolerance) { "running" } else { "notConfigured" },
            ),
        );
        self.put(
            vm,
            "guest.toolsStatus",
            model::typed("VirtualMachineToolsStatus", if running { "toolsOk" } else { "toolsNotRunning" }),
        );
        self.put(
            vm,
            "guest.toolsRunningStatus",
            model::s(if running { "guestToolsRunning" } else { "guestToolsNotRunning" }),
        );
    }

    pub(super) fn render_host(&mut self, host: &str) {
        let Some(h) = self.hosts.get(host).cloned() else { return };
        let vms = self.vms_on(host);
        self.put(host, "runtime.connectionState", model::typed("HostSystemConnectionState", h.connection));
        self.put(host, "runtime.powerState", model::typed("HostSystemPowerState", h.power));
        self.put(
            host,
            "runtime.inMaintenanceMode",
            model::typed("xsd:boolean", if h.in_mm { "true" } else { "false" }),
        );
        self.put(host, "runtime.bootTime", model::typed("xsd:dateTime", &h.boot_time));
        self.put(host, "vm", model::morefs("VirtualMachine", &vms));
    }

    pub(super) fn render_cluster(&mut self, cluster: &str) {
        let Some(c) = self.clusters.get(cluster).cloned() else { return };
        let on = |b: bool| if b { "true" } else { "false" };
        let mut cfg = format!(
            "<val xsi:type=\"ClusterConfigInfoEx\"><vmSwapPlacement>vmDirectory</vmSwapPlacement>\
             <dasConfig><enabled>true</enabled><vmMonitoring>vmMonitoringDisabled</vmMonitoring>\
             <hostMonitoring>enabled</hostMonitoring></dasConfig>\
             <drsConfig><enabled>{}</enabled><enableVmBehaviorOverrides>true</enableVmBehaviorOverrides>\
             <defaultVmBehavior>{}</defaultVmBehavior><vmotionRate>3</vmotionRate></drsConfig>",
            on(c.drs_enabled),
            esc(&c.behavior)
        );
        let blocked: Vec<(String, LabBlock, String)> = self
            .vms
            .iter()
            .filter(|(_, v)| c.hosts.contains(&v.host))
            .filter_map(|(id, v)| v.block.as_ref().map(|(b, _)| (id.clone(), *b, v.host.clone())))
            .collect();
        for (vm, b, _) in &blocked {
            match b {
                LabBlock::DrsManual => cfg.push_str(&format!(
                    "<drsVmConfig><key type=\"VirtualMachine\">{vm}</key><enabled>true</enabled><behavior>manual</behavior></drsVmConfig>"
                )),
                LabBlock::DrsDisabledForVm => cfg.push_str(&format!(
                    "<drsVmConfig><key type=\"VirtualMachine\">{vm}</key><enabled>false</enabled></drsVmConfig>"
                )),
                _ => {}
            }
        }
        let pinned: Vec<&(String, LabBlock, String)> =
            blocked.iter().filter(|(_, b, _)| *b == LabBlock::AffinityRule).collect();
        for (i, (vm, _, host)) in pinned.iter().enumerate() {
            cfg.push_str(&format!(
                "<rule xsi:type=\"ClusterVmHostRuleInfo\"><key>{}</key><status>green</status><enabled>true</enabled>\
                 <name>pin-{vm}</name><mandatory>true</mandatory><userCreated>true</userCreated>\
                 <vmGroupName>vms-{vm}</vmGroupName><affineHostGroupName>hosts-{vm}-{host}</affineHostGroupName></rule>",
                i + 1
            ));
        }
        for (vm, _, host) in &pinned {
            cfg.push_str(&format!(
                "<group xsi:type=\"ClusterVmGroup\"><name>vms-{vm}</name><vm type=\"VirtualMachine\">{vm}</vm></group>\
                 <group xsi:type=\"ClusterHostGroup\"><name>hosts-{vm}-{host}</name><host type=\"HostSystem\">{host}</host></group>"
            ));
        }
        cfg.push_str("</val>");
        let mut faults = String::from("<val xsi:type=\"ArrayOfClusterDrsFaults\">");
        if !c.faults.is_empty() {
            faults.push_str("<ClusterDrsFaults xsi:type=\"ClusterDrsFaults\"><reason>hostMaint</reason>");
            for (vm, body) in &c.faults {
                faults.push_str(&format!(
                    "<faultsByVm xsi:type=\"ClusterDrsFaultsFaultsByVm\"><vm type=\"VirtualMachine\">{vm}</vm>{body}</faultsByVm>"
                ));
            }
            faults.push_str("</ClusterDrsFaults>");
        }
        faults.push_str("</val>");
        self.put(cluster, "configurationEx", cfg);
        self.put(cluster, "drsFault", faults);
        self.put(cluster, "configuration.drsConfig.enabled", model::typed("xsd:boolean", on(c.drs_enabled)));
        self.put(cluster, "configuration.drsConfig.defaultVmBehavior", model::typed("DrsBehavior", &c.behavior));
    }

    pub(super) fn render_task(&mut self, moid: &str) {
        let Some(t) = self.task_ids.get(moid).and_then(|n| self.tasks.get(n)).cloned() else { return };
        let state = match t.state {
            LabTaskState::Queued => "queued",
            LabTaskState::Running => "running",
            LabTaskState::Success => "success",
            LabTaskState::Error => "error",
        };
        let mut v = format!(
            "<val xsi:type=\"TaskInfo\"><key>{m}</key><task type=\"Task\">{m}</task><name>{}</name>\
             <descriptionId>{}</descriptionId><entity type=\"{}\">{}</entity><entityName>{}</entityName>\
             <state>{state}</state><cancelled>{}</cancelled><cancelable>{}</cancelable>",
            esc(&t.method),
            esc(&t.description_id),
            t.entity_kind,
            esc(&t.entity),
            esc(&t.entity_name),
            t.cancelled,
            t.cancelable,
            m = esc(&t.moid),
        );
        if let Some((ty, msg)) = &t.error {
            v.push_str(&format!(
                "<error><fault xsi:type=\"{}\"></fault><localizedMessage>{}</localizedMessage></error>",
                esc(ty),
                esc(msg)
            ));
        }
        if let (Some(p), LabTaskState::Running | LabTaskState::Queued) = (t.progress, t.state) {
            v.push_str(&format!("<progress>{p}</progress>"));
        }
        v.push_str(&format!(
            "<reason xsi:type=\"TaskReasonUser\"><userName>VSPHERE.LOCAL\\Administrator</userName></reason><queueTime>{}</queueTime>",
            t.queue_time
        ));
        if let Some(s) = &t.start_time {
            v.push_str(&format!("<startTime>{s}</startTime>"));
        }
        if let Some(s) = &t.complete_time {
            v.push_str(&format!("<completeTime>{s}</completeTime>"));
        }
        v.push_str(&format!("<eventChainId>{}</eventChainId></val>", t.chain));
        self.put(moid, "info", v);
        // The entity's `recentTask`: its last ten tasks, as vCenter keeps them for a while.
        let mut recent: Vec<(u64, String)> =
            self.tasks.iter().filter(|(_, x)| x.entity == t.entity).map(|(n, x)| (*n, x.moid.clone())).collect();
        recent.sort();
        let recent: Vec<String> = recent.into_iter().rev().take(10).rev().map(|(_, m)| m).collect();
        self.put(&t.entity, "recentTask", model::morefs("Task", &recent));
    }
}
