//! The lab vCenter's inventory: a deterministic tree of datacenters, clusters, hosts and
//! VMs, and each object's properties as vSphere XML (`<val xsi:type=…>`), the way
//! vCenter writes them.
//!
//! Owns the names, moids and property values tests compare against. It must never invent
//! a spelling vCenter does not use: the shapes are checked against vcsim's in
//! `lab/tests/vcenter_lab.rs`.
use std::fmt::Write;

/// How big a lab inventory is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LabModel {
    pub datacenters: usize,
    pub clusters_per_datacenter: usize,
    pub hosts_per_cluster: usize,
    /// Standalone hosts (a ComputeResource, no cluster) per datacenter.
    pub standalone_hosts_per_datacenter: usize,
    pub vms_per_host: usize,
}

impl LabModel {
    /// One datacenter with one cluster of `hosts` hosts, `vms_per_host` VMs on each, and no
    /// standalone hosts: the shape most job tests want.
    pub fn one_cluster(hosts: usize, vms_per_host: usize) -> LabModel {
        LabModel {
            datacenters: 1,
            clusters_per_datacenter: 1,
            hosts_per_cluster: hosts,
            standalone_hosts_per_datacenter: 0,
            vms_per_host,
        }
    }
    pub fn clusters(&self) -> usize {
        self.datacenters * self.clusters_per_datacenter
    }
    pub fn hosts(&self) -> usize {
        self.datacenters
            * (self.clusters_per_datacenter * self.hosts_per_cluster + self.standalone_hosts_per_datacenter)
    }
    pub fn vms(&self) -> usize {
        self.hosts() * self.vms_per_host
    }
}

impl Default for LabModel {
    fn default() -> Self {
        LabModel {
            datacenters: 2,
            clusters_per_datacenter: 2,
            hosts_per_cluster: 2,
            standalone_hosts_per_datacenter: 1,
            vms_per_host: 5,
        }
    }
}

/// One managed object and its properties (path → `<val …>…</val>` XML).
#[derive(Debug, Clone)]
pub struct LabObject {
    pub kind: &'static str,
    pub moid: String,
    pub props: Vec<(&'static str, String)>,
}

impl LabObject {
    fn new(kind: &'static str, moid: String) -> Self {
        LabObject { kind, moid, props: Vec::new() }
    }
    fn set(&mut self, path: &'static str, val: String) -> &mut Self {
        self.props.push((path, val));
        self
    }
    /// Replace (or add) a property's value; true when it changed.
    pub(crate) fn put(&mut self, path: &'static str, val: String) -> bool {
        match self.props.iter_mut().find(|(p, _)| *p == path) {
            Some((_, old)) if *old == val => false,
            Some((_, old)) => {
                *old = val;
                true
            }
            None => {
                self.props.push((path, val));
                true
            }
        }
    }
    pub fn prop(&self, path: &str) -> Option<&str> {
        self.props.iter().find(|(p, _)| *p == path).map(|(_, v)| v.as_str())
    }
}

pub(crate) fn s(v: &str) -> String {
    format!("<val xsi:type=\"xsd:string\">{}</val>", quick_xml::escape::escape(v))
}
pub(crate) fn typed(t: &str, v: &str) -> String {
    format!("<val xsi:type=\"{t}\">{}</val>", quick_xml::escape::escape(v))
}
pub(crate) fn moref(kind: &str, id: &str) -> String {
    format!("<val xsi:type=\"ManagedObjectReference\" type=\"{kind}\">{id}</val>")
}
/// `ArrayOfManagedObjectReference` of `kind`.
pub(crate) fn morefs<'a>(kind: &str, ids: impl IntoIterator<Item = &'a String>) -> String {
    let mut out = String::from("<val xsi:type=\"ArrayOfManagedObjectReference\">");
    for id in ids {
        let _ = write!(out, "<ManagedObjectReference type=\"{kind}\">{id}</ManagedObjectReference>");
    }
    out.push_str("</val>");
    out
}

/// The boot time every lab host reports until it is rebooted.
pub(crate) const FIRST_BOOT: &str = "2024-01-01T06:00:00Z";

/// The lab's deterministic BIOS uuid for VM number `n`.
pub fn vm_uuid(n: usize) -> String {
    format!("4210{:04x}-0000-4000-8000-{:012x}", n % 0x10000, n)
}

/// The lab's MAC for VM number `n`.
pub fn vm_mac(n: usize) -> String {
    format!("00:50:56:{:02x}:{:02x}:{:02x}", (n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff)
}

/// The lab's guest IP for VM number `n`.
pub fn vm_ip(n: usize) -> String {
    format!("10.{}.{}.{}", 100 + (n >> 16) % 100, (n >> 8) & 0xff, n & 0xff)
}

/// The lab's Dell service tag for host number `n`.
pub fn service_tag(n: usize) -> String {
    format!("LAB{n:04}")
}

/// How the objects of a lab inventory hang together: what the lab's actions change.
#[derive(Debug, Clone, Default)]
pub(crate) struct Topology {
    /// (moid, name, hosts, shared datastore) of each cluster.
    pub clusters: Vec<(String, String, Vec<String>, String)>,
    pub hosts: Vec<HostInit>,
    pub vms: Vec<VmInit>,
}

#[derive(Debug, Clone)]
pub(crate) struct HostInit {
    pub moid: String,
    pub name: String,
    /// The cluster or standalone compute resource.
    pub parent: String,
    pub clustered: bool,
    pub in_maintenance_mode: bool,
    pub local_datastore: String,
}

#[derive(Debug, Clone)]
pub(crate) struct VmInit {
    pub moid: String,
    pub name: String,
    pub host: String,
    pub powered_on: bool,
    pub datastore: String,
    /// `config.hardware.device` as built.
    pub devices: String,
}

/// Build every object of `model`. The root folder is `group-d1`.
pub fn build(model: &LabModel) -> Vec<LabObject> {
    build_with_topology(model).0
}

/// [`build`], and how the objects hang together. Datastores come last (after the custom
/// field definitions): one shared by each cluster's hosts, one local to each host.
pub(crate) fn build_with_topology(model: &LabModel) -> (Vec<LabObject>, Topology) {
    let mut topo = Topology::default();
    let mut datastores: Vec<LabObject> = Vec::new();
    let mut out = Vec::new();
    let mut root = LabObject::new("Folder", "group-d1".into());
    root.set("name", s("Datacenters"));
    out.push(root);
    let mut net = LabObject::new("Network", "network-7".into());
    net.set("name", s("VM Network"));
    out.push(net);
    let (mut host_n, mut vm_n, mut cluster_n) = (0usize, 0usize, 0usize);
    for d in 0..model.datacenters {
        let dc = format!("datacenter-{}", 10 + d);
        let dc_name = format!("LabDC{d}");
        let mut o = LabObject::new("Datacenter", dc.clone());
        o.set("name", s(&dc_name)).set("parent", moref("Folder", "group-d1"));
        out.push(o);
        let vm_folder = format!("group-v{}", 10 + d);
        let host_folder = format!("group-h{}", 10 + d);
        let prod = format!("group-v{}", 100 + d);
        for (id, name, parent, ptype) in [
            (&vm_folder, "vm", &dc, "Datacenter"),
            (&host_folder, "host", &dc, "Datacenter"),
            (&prod, "Prod", &vm_folder, "Folder"),
        ] {
            let mut f = LabObject::new("Folder", id.clone());
            f.set("name", s(name)).set("parent", moref(ptype, parent));
            out.push(f);
        }
        let mut parents: Vec<(String, &'static str, Option<String>)> = Vec::new();
        let mut compute: Vec<(usize, Vec<String>)> = Vec::new();
        for c in 0..model.clusters_per_datacenter {
            let id = format!("domain-c{}", 100 + cluster_n);
            let name = format!("{dc_name}-C{c}");
            let shared = format!("datastore-{}", 100 + cluster_n);
            cluster_n += 1;
            let mut o = LabObject::new("ClusterComputeResource", id.clone());
            o.set("name", s(&name))
                .set("parent", moref("Folder", &host_folder))
                .set("configuration.drsConfig.enabled", typed("xsd:boolean", "true"))
                .set("configuration.drsConfig.defaultVmBehavior", typed("DrsBehavior", "fullyAutomated"))
                .set("configuration.dasConfig.enabled", typed("xsd:boolean", "true"));
            compute.push((out.len(), Vec::new()));
            out.push(o);
            let mut ds = LabObject::new("Datastore", shared.clone());
            ds.set("name", s(&format!("{name}-shared")))
                .set("summary.multipleHostAccess", typed("xsd:boolean", "true"));
            datastores.push(ds);
            topo.clusters.push((id.clone(), name, Vec::new(), shared.clone()));
            for _ in 0..model.hosts_per_cluster {
                parents.push((id.clone(), "ClusterComputeResource", Some(shared.clone())));
            }
        }
        for h in 0..model.standalone_hosts_per_datacenter {
            let id = format!("domain-s{}", 100 + d * 100 + h);
            let mut o = LabObject::new("ComputeResource", id.clone());
            o.set("name", s(&format!("{dc_name}-standalone-{h}"))).set("parent", moref("Folder", &host_folder));
            compute.push((out.len(), Vec::new()));
            out.push(o);
            parents.push((id, "ComputeResource", None));
        }
        for (parent, ptype, shared) in parents {
            let host = format!("host-{}", 1000 + host_n);
            let local = format!("datastore-{}", 1000 + host_n);
            let mut o = LabObject::new("HostSystem", host.clone());
            host_props(&mut o, host_n, &parent, ptype);
            let host_name = format!("esx-{host_n:03}.lab.local");
            let in_mm = host_n % 7 == 3;
            let mut ds = LabObject::new("Datastore", local.clone());
            ds.set("name", s(&format!("{host_name}-local")))
                .set("summary.multipleHostAccess", typed("xsd:boolean", "false"));
            datastores.push(ds);
            let host_index = out.len();
            out.push(o);
            if let Some(c) = topo.clusters.iter_mut().find(|c| c.0 == parent) {
                c.2.push(host.clone());
            }
            if let Some((_, hosts)) = compute.iter_mut().find(|(i, _)| out[*i].moid == parent) {
                hosts.push(host.clone());
            }
            let vm_datastore = shared.clone().unwrap_or_else(|| local.clone());
            let mut vms = Vec::new();
            for _ in 0..model.vms_per_host {
                let id = format!("vm-{}", 5000 + vm_n);
                let mut v = LabObject::new("VirtualMachine", id.clone());
                vm_props(&mut v, vm_n, &prod, &host);
                v.set("datastore", morefs("Datastore", [&vm_datastore]))
                    .set("runtime.faultToleranceState", typed("VirtualMachineFaultToleranceState", "notConfigured"));
                topo.vms.push(VmInit {
                    moid: id.clone(),
                    name: format!("lab-vm-{vm_n:05}"),
                    host: host.clone(),
                    powered_on: vm_n % 10 != 9,
                    datastore: vm_datastore.clone(),
                    devices: v.prop("config.hardware.device").unwrap_or_default().to_owned(),
                });
                out.push(v);
                vms.push(id);
                vm_n += 1;
            }
            let mut host_datastores = vec![local.clone()];
            host_datastores.extend(shared.clone());
            out[host_index]
                .set("vm", morefs("VirtualMachine", &vms))
                .set("datastore", morefs("Datastore", &host_datastores))
                .set("runtime.bootTime", typed("xsd:dateTime", FIRST_BOOT));
            topo.hosts.push(HostInit {
                moid: host,
                name: host_name,
                parent: parent.clone(),
                clustered: shared.is_some(),
                in_maintenance_mode: in_mm,
                local_datastore: local,
            });
            host_n += 1;
        }
        for (i, hosts) in compute {
            out[i].set("host", morefs("HostSystem", &hosts));
        }
    }
    let mut cfm = LabObject::new("CustomFieldsManager", "CustomFieldsManager".into());
    cfm.set(
        "field",
        "<val xsi:type=\"ArrayOfCustomFieldDef\"><CustomFieldDef xsi:type=\"CustomFieldDef\"><key>201</key>\
         <name>Owner</name><type>string</type><managedObjectType>VirtualMachine</managedObjectType>\
         </CustomFieldDef></val>"
            .into(),
    );
    out.push(cfm);
    for ds in &mut datastores {
        let mounted: Vec<&String> = topo
            .hosts
            .iter()
            .filter(|h| {
                h.local_datastore == ds.moid || topo.clusters.iter().any(|c| c.3 == ds.moid && c.2.contains(&h.moid))
            })
            .map(|h| &h.moid)
            .collect();
        ds.set("host", host_mounts(&mounted));
    }
    out.extend(datastores);
    (out, topo)
}

/// A datastore's `host` property: one `DatastoreHostMount` per host that mounts it.
fn host_mounts(hosts: &[&String]) -> String {
    let mut out = String::from("<val xsi:type=\"ArrayOfDatastoreHostMount\">");
    for h in hosts {
        let _ = write!(
            out,
            "<DatastoreHostMount xsi:type=\"DatastoreHostMount\"><key type=\"HostSystem\">{h}</key>\
             <mountInfo><accessMode>readWrite</accessMode><mounted>true</mounted><accessible>true</accessible></mountInfo>\
             </DatastoreHostMount>"
        );
    }
    out.push_str("</val>");
    out
}

fn host_props(o: &mut LabObject, n: usize, parent: &str, ptype: &str) {
    let ip = format!("10.0.{}.{}", n / 250, 1 + n % 250);
    let mut system =
        String::from("<val xsi:type=\"HostSystemInfo\"><vendor>Dell Inc.</vendor><model>PowerEdge R740</model>");
    let _ = write!(system, "<uuid>4c4c4544-0000-1000-8000-{n:012x}</uuid>");
    for (key, value) in [("AssetTag", " No Asset Tag"), ("ServiceTag", &service_tag(n))] {
        let _ = write!(
            system,
            "<otherIdentifyingInfo><identifierValue>{value}</identifierValue><identifierType>\
             <label>{key}</label><summary>{key}</summary><key>{key}</key></identifierType></otherIdentifyingInfo>"
        );
    }
    let _ = write!(system, "<serialNumber>{}</serialNumber></val>", service_tag(n));
    let vnic = |dev: &str, ip: &str| {
        format!(
            "<candidateVnic><device>{dev}</device><key>management.key-vim.host.VirtualNic-{dev}</key><portgroup>Management Network</portgroup>\
             <spec><ip><dhcp>false</dhcp><ipAddress>{ip}</ipAddress><subnetMask>255.255.255.0</subnetMask></ip>\
             <mac>00:0c:29:00:{:02x}:{:02x}</mac><mtu>1500</mtu></spec></candidateVnic>",
            (n >> 8) & 0xff,
            n & 0xff
        )
    };
    let net = format!(
        "<val xsi:type=\"ArrayOfVirtualNicManagerNetConfig\"><VirtualNicManagerNetConfig xsi:type=\"VirtualNicManagerNetConfig\">\
         <nicType>management</nicType><multiSelectAllowed>true</multiSelectAllowed>{}{}\
         <selectedVnic>management.key-vim.host.VirtualNic-vmk0</selectedVnic></VirtualNicManagerNetConfig>\
         <VirtualNicManagerNetConfig xsi:type=\"VirtualNicManagerNetConfig\"><nicType>vmotion</nicType>\
         <multiSelectAllowed>true</multiSelectAllowed>{}<selectedVnic>management.key-vim.host.VirtualNic-vmk2</selectedVnic>\
         </VirtualNicManagerNetConfig></val>",
        vnic("vmk0", &ip),
        vnic("vmk1", "169.254.0.2"),
        vnic("vmk2", "192.168.50.1")
    );
    o.set("name", s(&format!("esx-{n:03}.lab.local")))
        .set("parent", moref(ptype, parent))
        .set("hardware.systemInfo", system)
        .set("config.product.version", s("7.0.3"))
        .set("config.product.build", s("21930508"))
        .set("config.virtualNicManagerInfo.netConfig", net)
        .set("runtime.connectionState", typed("HostSystemConnectionState", "connected"))
        .set("runtime.powerState", typed("HostSystemPowerState", "poweredOn"))
        .set("runtime.inMaintenanceMode", typed("xsd:boolean", if n % 7 == 3 { "true" } else { "false" }))
        .set("summary.hardware.cpuModel", s("Intel(R) Xeon(R) Gold 6248R CPU @ 3.00GHz"))
        .set("summary.hardware.numCpuCores", typed("xsd:short", "48"))
        .set("summary.hardware.numCpuThreads", typed("xsd:short", "96"))
        .set("summary.hardware.memorySize", typed("xsd:long", &(768u64 * 1024 * 1024 * 1024).to_string()))
        .set("summary.hardware.cpuMhz", typed("xsd:int", "3000"))
        .set("customValue", "<val xsi:type=\"ArrayOfCustomFieldValue\"></val>".into());
}

fn vm_props(o: &mut LabObject, n: usize, folder: &str, host: &str) {
    let mac = vm_mac(n);
    let on = n % 10 != 9;
    let powered = if on { "poweredOn" } else { "poweredOff" };
    let device = format!(
        "<val xsi:type=\"ArrayOfVirtualDevice\"><VirtualDevice xsi:type=\"VirtualDisk\"><key>2000</key>\
         <deviceInfo><label>Hard disk 1</label><summary>41,943,040 KB</summary></deviceInfo><capacityInKB>41943040</capacityInKB>\
         </VirtualDevice><VirtualDevice xsi:type=\"VirtualVmxnet3\"><key>4000</key><deviceInfo><label>Network adapter 1</label>\
         <summary>VM Network</summary></deviceInfo><backing xsi:type=\"VirtualEthernetCardNetworkBackingInfo\">\
         <deviceName>VM Network</deviceName><useAutoDetect>false</useAutoDetect><network type=\"Network\">network-7</network>\
         </backing><connectable><startConnected>true</startConnected><allowGuestControl>true</allowGuestControl>\
         <connected>true</connected><status>ok</status></connectable><controllerKey>100</controllerKey><unitNumber>7</unitNumber>\
         <addressType>assigned</addressType><macAddress>{mac}</macAddress><wakeOnLanEnabled>true</wakeOnLanEnabled>\
         </VirtualDevice></val>"
    );
    let ip = vm_ip(n);
    let guest_net = format!(
        "<val xsi:type=\"ArrayOfGuestNicInfo\"><GuestNicInfo xsi:type=\"GuestNicInfo\"><network>VM Network</network>\
         <ipAddress>{ip}</ipAddress><ipAddress>fe80::250:56ff:fe00:1</ipAddress><macAddress>{mac}</macAddress>\
         <connected>true</connected><deviceConfigId>4000</deviceConfigId><ipConfig><ipAddress><ipAddress>{ip}</ipAddress>\
         <prefixLength>24</prefixLength><state>preferred</state></ipAddress><ipAddress><ipAddress>fe80::250:56ff:fe00:1</ipAddress>\
         <prefixLength>64</prefixLength><state>unknown</state></ipAddress></ipConfig></GuestNicInfo></val>"
    );
    let custom = if n.is_multiple_of(2) {
        format!(
            "<val xsi:type=\"ArrayOfCustomFieldValue\"><CustomFieldValue xsi:type=\"CustomFieldStringValue\"><key>201</key>\
             <value>team-{}</value></CustomFieldValue></val>",
            n % 3
        )
    } else {
        "<val xsi:type=\"ArrayOfCustomFieldValue\"></val>".into()
    };
    o.set("name", s(&format!("lab-vm-{n:05}")))
        .set("parent", moref("Folder", folder))
        .set("runtime.host", moref("HostSystem", host))
        .set("runtime.powerState", typed("VirtualMachinePowerState", powered))
        .set("config.uuid", s(&vm_uuid(n)))
        .set("config.instanceUuid", s(&format!("5010{:04x}-0000-4000-8000-{:012x}", n % 0x10000, n)))
        .set("config.hardware.numCPU", typed("xsd:int", &(1 + n % 8).to_string()))
        .set("config.hardware.memoryMB", typed("xsd:int", &(1024 * (1 + n % 16)).to_string()))
        .set("config.hardware.device", device)
        .set("config.guestFullName", s("Ubuntu Linux (64-bit)"))
        .set("config.annotation", s(&format!("owner <ops> & friends #{n}")))
        .set("config.template", typed("xsd:boolean", "false"))
        .set("guest.toolsStatus", typed("VirtualMachineToolsStatus", if on { "toolsOk" } else { "toolsNotRunning" }))
        .set("guest.toolsRunningStatus", s(if on { "guestToolsRunning" } else { "guestToolsNotRunning" }))
        .set("guest.hostName", s(&format!("lab-vm-{n:05}.lab.local")))
        .set("guest.ipAddress", s(&ip))
        .set("guest.net", guest_net)
        .set("customValue", custom);
}
