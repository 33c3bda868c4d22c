//! # estate — the demo lab's whole estate, generated deterministically
//!
//! Owns what `eio demo` serves: 2 regions, 3 sites, 2 vCenters with 5 clusters, 60 ESXi
//! hosts and 800 VMs with guest IPs (a few duplicated, a few outside every prefix), 60 Dell
//! servers behind iDRAC7 (WSMan), iDRAC8 and iDRAC9 (Redfish), an OpenManage Enterprise whose
//! baselines some servers violate, the prefixes each site plans, and one VM whose host can't
//! be evacuated. The same facts every run ([`Estate::demo`]), so a test can count them.
//!
//! The vCenters' inventories are the lab's own ([`crate::vcenter::model`]) reshaped with
//! the estate's names, addresses and service tags; the Dell fleet is the lab's own specs with
//! the hosts' service tags and the sites' out-of-band addresses. Everything is served on
//! loopback by [`start`], on remembered ports with one kept certificate ([`LabPorts`],
//! [`crate::tls::LabCert::generate_keepable`]), so sources registered once keep working
//! when the lab comes back. Never used by production code paths.
use eio_connectors::idrac::Generation;

use crate::dell::{DellLab, LabError};
use crate::tls::LabCert;
use crate::vcenter::model::{self, s, service_tag, vm_mac, vm_uuid, LabObject, Topology};
use crate::vcenter::{LabBlock, LabModel, LabVcenter};

/// A site of the estate and the addresses it plans.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EstateSite {
    /// `DE-FRA-01`
    pub code: String,
    pub name: String,
    /// ISO 3166 alpha-2.
    pub country: String,
    pub country_name: String,
    pub region: String,
    pub region_name: String,
    pub timezone: String,
    /// Its datacenter's name in vCenter (`FRA`): what the site rule matches.
    pub datacenter: String,
    /// Second octet of its `10.x.0.0/16`.
    pub octet: u8,
}

impl EstateSite {
    fn short(&self) -> String {
        self.datacenter.to_ascii_lowercase()
    }
}

/// A prefix a site plans.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EstatePrefix {
    pub site: String,
    pub cidr: String,
    pub vlan: Option<i32>,
    pub description: String,
}

/// One simulated vCenter.
#[derive(Debug, Clone)]
pub struct EstateVcenter {
    /// The source name (`vc-emea`).
    pub name: String,
    pub model: LabModel,
    /// The site (index into [`Estate::sites`]) of each datacenter.
    pub datacenter_sites: Vec<usize>,
    /// The cluster names, in the model's order.
    pub clusters: Vec<String>,
}

/// How a VM's guest IP relates to the plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GuestIp {
    /// Inside its site's VM prefix, used once.
    Planned,
    /// The same address as the VM before it.
    Duplicate,
    /// In no prefix at all.
    OutsideAnyPrefix,
}

#[derive(Debug, Clone)]
pub struct EstateHost {
    pub vcenter: usize,
    /// The model's own number of the host inside its vCenter.
    pub local: usize,
    pub moid: String,
    pub name: String,
    pub cluster: String,
    pub site: usize,
    pub service_tag: String,
    pub mgmt_ip: String,
    pub in_maintenance_mode: bool,
}

#[derive(Debug, Clone)]
pub struct EstateVm {
    pub vcenter: usize,
    pub local: usize,
    pub moid: String,
    pub name: String,
    pub host: String,
    pub site: usize,
    pub ip: String,
    pub guest_ip: GuestIp,
    pub powered_on: bool,
}

/// The VM that keeps its host from being evacuated.
#[derive(Debug, Clone)]
pub struct BlockedEvacuation {
    pub vcenter: usize,
    pub host_moid: String,
    pub host: String,
    pub cluster: String,
    pub vm_moid: String,
    pub vm: String,
    pub reason: String,
}

/// The whole estate.
#[derive(Debug, Clone)]
pub struct Estate {
    pub sites: Vec<EstateSite>,
    pub prefixes: Vec<EstatePrefix>,
    pub vcenters: Vec<EstateVcenter>,
    pub hosts: Vec<EstateHost>,
    pub vms: Vec<EstateVm>,
    pub blocked: BlockedEvacuation,
    /// iDRAC generations, assigned round-robin over the servers.
    pub generation_mix: Vec<(Generation, usize)>,
    /// Every k-th server runs firmware older than the OME baseline.
    pub outdated_every: usize,
}

/// Per-site VM roles, for names.
const ROLES: &[&str] = &["web", "app", "db", "cache", "mq", "build", "k8s", "file"];

impl Estate {
    /// The demo estate: the same every run.
    pub fn demo() -> Estate {
        let site = |code: &str,
                    name: &str,
                    country: &str,
                    country_name: &str,
                    region: &str,
                    region_name: &str,
                    tz: &str,
                    dc: &str,
                    octet: u8| EstateSite {
            code: code.into(),
            name: name.into(),
            country: country.into(),
            country_name: country_name.into(),
            region: region.into(),
            region_name: region_name.into(),
            timezone: tz.into(),
            datacenter: dc.into(),
            octet,
        };
        let sites = vec![
            site(
                "DE-FRA-01",
                "Frankfurt 1",
                "DE",
                "Germany",
                "EMEA",
                "Europe, Middle East and Africa",
                "Europe/Berlin",
                "FRA",
                10,
            ),
            site(
                "GB-LON-01",
                "London 1",
                "GB",
                "United Kingdom",
                "EMEA",
                "Europe, Middle East and Africa",
                "Europe/London",
                "LON",
                20,
            ),
            site("US-NYC-01", "New York 1", "US", "United States", "AMER", "Americas", "America/New_York", "NYC", 30),
        ];
        let mut prefixes = Vec::new();
        for s in &sites {
            let o = s.octet;
            let p = |cidr: String, vlan: Option<i32>, what: &str| EstatePrefix {
                site: s.code.clone(),
                cidr,
                vlan,
                description: format!("{} {what}", s.name),
            };
            prefixes.push(p(format!("10.{o}.0.0/16"), None, "site supernet"));
            prefixes.push(p(format!("10.{o}.0.0/22"), Some(110), "VM network"));
            prefixes.push(p(format!("10.{o}.100.0/24"), Some(100), "ESXi management"));
            prefixes.push(p(format!("10.{o}.200.0/24"), Some(200), "iDRAC out-of-band"));
        }
        let vcenters = vec![
            EstateVcenter {
                name: "vc-emea".into(),
                model: LabModel {
                    datacenters: 2,
                    clusters_per_datacenter: 2,
                    hosts_per_cluster: 10,
                    standalone_hosts_per_datacenter: 0,
                    vms_per_host: 13,
                },
                datacenter_sites: vec![0, 1],
                clusters: vec!["FRA-PROD".into(), "FRA-DEV".into(), "LON-PROD".into(), "LON-DEV".into()],
            },
            EstateVcenter {
                name: "vc-amer".into(),
                model: LabModel::one_cluster(20, 14),
                datacenter_sites: vec![2],
                clusters: vec!["NYC-PROD".into()],
            },
        ];
        let mut hosts = Vec::new();
        let mut vms: Vec<EstateVm> = Vec::new();
        let mut per_site_hosts = vec![0usize; sites.len()];
        let mut per_site_vms = vec![0usize; sites.len()];
        for (v, vc) in vcenters.iter().enumerate() {
            let (_, topo) = model::build_with_topology(&vc.model);
            for (local, h) in topo.hosts.iter().enumerate() {
                let cluster_index = topo.clusters.iter().position(|c| c.0 == h.parent).unwrap_or(0);
                let site_index = vc.datacenter_sites[cluster_index / vc.model.clusters_per_datacenter.max(1)];
                let site = &sites[site_index];
                let k = per_site_hosts[site_index];
                per_site_hosts[site_index] += 1;
                let global = hosts.len();
                hosts.push(EstateHost {
                    vcenter: v,
                    local,
                    moid: shift_moid(v, &h.moid),
                    name: format!("esx-{}-{:02}.{}.example.net", site.short(), k + 1, site.region.to_ascii_lowercase()),
                    cluster: vc.clusters[cluster_index].clone(),
                    site: site_index,
                    service_tag: service_tag(global),
                    mgmt_ip: format!("10.{}.100.{}", site.octet, 11 + k),
                    in_maintenance_mode: h.in_maintenance_mode,
                });
            }
            for (local, vm) in topo.vms.iter().enumerate() {
                let host = hosts.iter().find(|h| h.vcenter == v && h.moid == shift_moid(v, &vm.host)).cloned();
                let site_index = host.as_ref().map(|h| h.site).unwrap_or(0);
                let site = &sites[site_index];
                let k = per_site_vms[site_index];
                per_site_vms[site_index] += 1;
                let global = vms.len();
                let (guest_ip, ip) = if global % 37 == 36 {
                    (GuestIp::OutsideAnyPrefix, format!("172.31.{}.{}", site.octet, 10 + k % 240))
                } else if global % 53 == 52 && global > 0 {
                    (GuestIp::Duplicate, vms[global - 1].ip.clone())
                } else {
                    (GuestIp::Planned, format!("10.{}.{}.{}", site.octet, k / 240, 10 + k % 240))
                };
                vms.push(EstateVm {
                    vcenter: v,
                    local,
                    moid: shift_moid(v, &vm.moid),
                    name: format!("{}-{}-{:03}", site.short(), ROLES[k % ROLES.len()], k / ROLES.len() + 1),
                    host: shift_moid(v, &vm.host),
                    site: site_index,
                    ip,
                    guest_ip,
                    powered_on: vm.powered_on,
                });
            }
        }
        // The second host of FRA-PROD: its first VM lives on the host's local datastore.
        let host = hosts.iter().find(|h| h.vcenter == 0 && h.local == 1).cloned().unwrap_or_else(|| hosts[0].clone());
        let vm = vms
            .iter()
            .find(|v| v.vcenter == host.vcenter && v.host == host.moid && v.powered_on)
            .cloned()
            .unwrap_or_else(|| vms[0].clone());
        let blocked = BlockedEvacuation {
            vcenter: host.vcenter,
            host_moid: host.moid.clone(),
            host: host.name.clone(),
            cluster: host.cluster.clone(),
            vm_moid: vm.moid.clone(),
            vm: vm.name.clone(),
            reason: "its disks live on the host's local datastore".into(),
        };
        Estate {
            sites,
            prefixes,
            vcenters,
            hosts,
            vms,
            blocked,
            generation_mix: vec![(Generation::Idrac7, 1), (Generation::Idrac8, 2), (Generation::Idrac9, 3)],
            outdated_every: 4,
        }
    }

    pub fn clusters(&self) -> usize {
        self.vcenters.iter().map(|v| v.model.clusters()).sum()
    }

    /// One Dell server per ESXi host.
    pub fn servers(&self) -> usize {
        self.hosts.len()
    }

    pub fn regions(&self) -> Vec<(&str, &str)> {
        let mut out: Vec<(&str, &str)> = Vec::new();
        for s in &self.sites {
            if !out.iter().any(|(c, _)| *c == s.region) {
                out.push((&s.region, &s.region_name));
            }
        }
        out
    }

    /// Ports a lab of this estate needs: one per vCenter, one per iDRAC, one for the OME.
    pub fn ports_needed(&self) -> usize {
        self.vcenters.len() + self.servers() + 1
    }

    /// vCenter `v`'s inventory with the estate's names, addresses and service tags.
    pub(crate) fn vcenter_inventory(&self, v: usize) -> (Vec<LabObject>, Topology) {
        let vc = &self.vcenters[v];
        let (mut objects, mut topo) = model::build_with_topology(&vc.model);
        if v > 0 {
            shift_inventory(v, &mut objects, &mut topo);
        }
        let mut renames: Vec<(String, String)> = Vec::new();
        for (d, site) in vc.datacenter_sites.iter().enumerate() {
            renames.push((format!("LabDC{d}"), self.sites[*site].datacenter.clone()));
        }
        for (c, cluster) in topo.clusters.iter_mut().enumerate() {
            let (d, i) = (c / vc.model.clusters_per_datacenter.max(1), c % vc.model.clusters_per_datacenter.max(1));
            renames.push((format!("LabDC{d}-C{i}"), vc.clusters[c].clone()));
            cluster.1 = vc.clusters[c].clone();
        }
        for h in self.hosts.iter().filter(|h| h.vcenter == v) {
            renames.push((format!("esx-{:03}.lab.local", h.local), h.name.clone()));
        }
        for o in &mut objects {
            match o.kind {
                "Datacenter" | "ClusterComputeResource" | "Datastore" => {
                    if let Some(name) = o.prop("name").map(str::to_owned) {
                        // Longest names first: "LabDC0-C1" before "LabDC0".
                        let mut renamed = name.clone();
                        let mut ordered: Vec<&(String, String)> = renames.iter().collect();
                        ordered.sort_by_key(|(old, _)| std::cmp::Reverse(old.len()));
                        for (old, new) in ordered {
                            if renamed.contains(&format!(">{old}")) {
                                renamed = renamed.replace(&format!(">{old}"), &format!(">{new}"));
                                break;
                            }
                        }
                        o.put("name", renamed);
                    }
                }
                "HostSystem" => {
                    if let Some(h) = self.hosts.iter().find(|h| h.vcenter == v && h.moid == o.moid) {
                        self.reshape_host(o, h);
                    }
                }
                "VirtualMachine" => {
                    if let Some(vm) = self.vms.iter().find(|x| x.vcenter == v && x.moid == o.moid) {
                        reshape_vm(o, vm, self.vms.iter().position(|x| x.vcenter == v && x.moid == vm.moid));
                    }
                }
                _ => {}
            }
        }
        for h in &mut topo.hosts {
            if let Some(e) = self.hosts.iter().find(|e| e.vcenter == v && e.moid == h.moid) {
                h.name = e.name.clone();
            }
        }
        for t in &mut topo.vms {
            if let Some(o) = objects.iter().find(|o| o.moid == t.moid) {
                t.name = self
                    .vms
                    .iter()
                    .find(|x| x.vcenter == v && x.moid == t.moid)
                    .map(|x| x.name.clone())
                    .unwrap_or_default();
                t.devices = o.prop("config.hardware.device").unwrap_or_default().to_owned();
            }
        }
        (objects, topo)
    }

    fn reshape_host(&self, o: &mut LabObject, h: &EstateHost) {
        let global = self.hosts.iter().position(|x| x.vcenter == h.vcenter && x.moid == h.moid).unwrap_or(h.local);
        let n = h.local;
        o.put("name", s(&h.name));
        if let Some(system) = o.prop("hardware.systemInfo").map(str::to_owned) {
            let system = system
                .replace(&format!(">{}<", service_tag(n)), &format!(">{}<", h.service_tag))
                .replace(&format!("-8000-{n:012x}<"), &format!("-8000-{global:012x}<"));
            o.put("hardware.systemInfo", system);
        }
        if let Some(net) = o.prop("config.virtualNicManagerInfo.netConfig").map(str::to_owned) {
            let old_ip = format!(">10.0.{}.{}<", n / 250, 1 + n % 250);
            let old_mac = format!("00:0c:29:00:{:02x}:{:02x}", (n >> 8) & 0xff, n & 0xff);
            let new_mac = format!("00:0c:29:00:{:02x}:{:02x}", (global >> 8) & 0xff, global & 0xff);
            let net = net.replace(&old_ip, &format!(">{}<", h.mgmt_ip)).replace(&old_mac, &new_mac);
            o.put("config.virtualNicManagerInfo.netConfig", net);
        }
    }
}

/// Moids are only unique within one vCenter, but the lab numbers every vCenter's objects
/// alike; vCenter `v` > 0 gets its own ranges (`host-1…` → `host-3…` for v = 1) so the demo's
/// vCenters are told apart by name *and* moid.
fn shift_moid(v: usize, moid: &str) -> String {
    if v == 0 {
        return moid.to_owned();
    }
    for (prefix, first) in [("host-", 1), ("vm-", 5), ("domain-c", 1), ("datastore-", 1)] {
        if let Some(rest) = moid.strip_prefix(prefix) {
            if let Some(tail) = rest.strip_prefix(char::from(b'0' + first)) {
                return format!("{prefix}{}{tail}", first as usize + 2 * v);
            }
        }
    }
    moid.to_owned()
}

fn shift_xml(v: usize, xml: &str) -> String {
    let mut out = xml.to_owned();
    for (prefix, first) in [("host-", 1), ("vm-", 5), ("domain-c", 1), ("datastore-", 1)] {
        out = out.replace(&format!(">{prefix}{first}"), &format!(">{prefix}{}", first + 2 * v));
    }
    out
}

fn shift_inventory(v: usize, objects: &mut [LabObject], topo: &mut Topology) {
    for o in objects.iter_mut() {
        o.moid = shift_moid(v, &o.moid);
        for (_, val) in o.props.iter_mut() {
            *val = shift_xml(v, val);
        }
    }
    for c in &mut topo.clusters {
        c.0 = shift_moid(v, &c.0);
        c.2 = c.2.iter().map(|h| shift_moid(v, h)).collect();
        c.3 = shift_moid(v, &c.3);
    }
    for h in &mut topo.hosts {
        h.moid = shift_moid(v, &h.moid);
        h.parent = shift_moid(v, &h.parent);
        h.local_datastore = shift_moid(v, &h.local_datastore);
    }
    for t in &mut topo.vms {
        t.moid = shift_moid(v, &t.moid);
        t.host = shift_moid(v, &t.host);
        t.datastore = shift_moid(v, &t.datastore);
        t.devices = shift_xml(v, &t.devices);
    }
}

fn reshape_vm(o: &mut LabObject, vm: &EstateVm, global: Option<usize>) {
    let global = global.unwrap_or(vm.local);
    let n = vm.local;
    let old_ip = format!(">{}<", model::vm_ip(n));
    let new_ip = format!(">{}<", vm.ip);
    let (old_mac, new_mac) = (vm_mac(n), vm_mac(global));
    for path in ["guest.net", "config.hardware.device"] {
        if let Some(v) = o.prop(path).map(str::to_owned) {
            let v = v.replace(&old_ip, &new_ip).replace(&old_mac, &new_mac);
            o.put(path, v);
        }
    }
    o.put("name", s(&vm.name));
    o.put("guest.hostName", s(&format!("{}.corp.example", vm.name)));
    o.put("guest.ipAddress", s(&vm.ip));
    o.put("config.uuid", s(&vm_uuid(global)));
    o.put("config.instanceUuid", s(&format!("5010{:04x}-0000-4000-8000-{:012x}", global % 0x10000, global)));
}

/// Where the lab listens: one loopback port per vCenter, per iDRAC and for the OME.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct LabPorts {
    pub vcenters: Vec<u16>,
    pub idracs: Vec<u16>,
    pub ome: u16,
}

impl LabPorts {
    /// Free loopback ports for `estate`, below the kernel's ephemeral range (so outgoing
    /// connections don't take them between runs), starting at a varying place.
    pub fn pick(estate: &Estate) -> std::io::Result<LabPorts> {
        let need = estate.ports_needed();
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos() as usize ^ std::process::id() as usize)
            .unwrap_or(0);
        const LOW: usize = 20_000;
        const SPAN: usize = 12_000;
        let mut found = Vec::with_capacity(need);
        let start = seed % SPAN;
        for i in 0..SPAN {
            let port = (LOW + (start + i) % SPAN) as u16;
            if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
                found.push(port);
                if found.len() == need {
                    break;
                }
            }
        }
        if found.len() < need {
            return Err(std::io::Error::other(format!(
                "only {} free loopback ports for the lab's {need}",
                found.len()
            )));
        }
        let ome = found.pop().unwrap_or_default();
        let idracs = found.split_off(estate.vcenters.len());
        Ok(LabPorts { vcenters: found, idracs, ome })
    }

    /// Whether every port can be listened on now.
    pub fn all_free(&self) -> bool {
        self.vcenters
            .iter()
            .chain(&self.idracs)
            .chain(std::iter::once(&self.ome))
            .all(|p| std::net::TcpListener::bind(("127.0.0.1", *p)).is_ok())
    }
}

/// The estate, served.
pub struct EstateLab {
    pub estate: Estate,
    pub vcenters: Vec<LabVcenter>,
    pub dell: DellLab,
}

/// Serve `estate` on `ports` with `cert` on every endpoint. The blocked VM is blocked.
pub async fn start(estate: Estate, ports: &LabPorts, cert: &LabCert) -> Result<EstateLab, LabError> {
    if ports.vcenters.len() != estate.vcenters.len() || ports.idracs.len() != estate.servers() {
        return Err(LabError::Config("the remembered ports do not fit the estate".into()));
    }
    let mut vcenters = Vec::new();
    for (v, vc) in estate.vcenters.iter().enumerate() {
        let (objects, topology) = estate.vcenter_inventory(v);
        vcenters.push(LabVcenter::start_built(vc.model, objects, topology, ports.vcenters[v], Some(cert)).await?);
    }
    let b = &estate.blocked;
    if !vcenters[b.vcenter].block_vm(&b.vm_moid, LabBlock::LocalStorage, &b.reason) {
        return Err(LabError::Config(format!("the lab has no VM {} to block", b.vm_moid)));
    }
    let mut dell = DellLab::builder()
        .bmcs(estate.servers())
        .generation_mix(&estate.generation_mix)
        .outdated_every(estate.outdated_every)
        .with_ome()
        .ports(ports.idracs.clone(), ports.ome)
        .certificate(cert.clone());
    for (i, h) in estate.hosts.iter().enumerate() {
        let (tag, hostname) = (h.service_tag.clone(), h.name.clone());
        let site = &estate.sites[h.site];
        let k = estate.hosts[..i].iter().filter(|x| x.site == h.site).count();
        let idrac_ip = format!("10.{}.200.{}", site.octet, 11 + k);
        dell = dell.customize(i, move |spec| {
            spec.service_tag = tag;
            spec.hostname = hostname;
            spec.idrac_ip = idrac_ip;
        });
    }
    let dell = dell.build().await?;
    Ok(EstateLab { estate, vcenters, dell })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_demo_estate_has_the_promised_shape() {
        let e = Estate::demo();
        assert_eq!(e.sites.len(), 3);
        assert_eq!(e.regions().len(), 2);
        assert_eq!(e.vcenters.len(), 2);
        assert_eq!(e.clusters(), 5);
        assert_eq!(e.hosts.len(), 60);
        assert_eq!(e.vms.len(), 800);
        assert_eq!(e.servers(), 60);
        let dup = e.vms.iter().filter(|v| v.guest_ip == GuestIp::Duplicate).count();
        let outside = e.vms.iter().filter(|v| v.guest_ip == GuestIp::OutsideAnyPrefix).count();
        assert!(dup > 5 && outside > 5, "{dup} duplicates, {outside} outside");
        let mut tags: Vec<&str> = e.hosts.iter().map(|h| h.service_tag.as_str()).collect();
        tags.sort();
        tags.dedup();
        assert_eq!(tags.len(), 60, "service tags are unique");
        let mut names: Vec<&str> = e.vms.iter().map(|v| v.name.as_str()).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), 800, "VM names are unique");
        let mut moids: Vec<&str> =
            e.hosts.iter().map(|h| h.moid.as_str()).chain(e.vms.iter().map(|v| v.moid.as_str())).collect();
        moids.sort();
        moids.dedup();
        assert_eq!(moids.len(), 860, "moids differ across the vCenters too");
        // The same estate every time.
        let again = Estate::demo();
        assert_eq!(
            again.vms.iter().map(|v| &v.ip).collect::<Vec<_>>(),
            e.vms.iter().map(|v| &v.ip).collect::<Vec<_>>()
        );
    }

    #[test]
    fn vcenter_inventories_carry_the_estate_names_and_addresses() {
        let e = Estate::demo();
        for v in 0..e.vcenters.len() {
            let (objects, topo) = e.vcenter_inventory(v);
            let hosts: Vec<&LabObject> = objects.iter().filter(|o| o.kind == "HostSystem").collect();
            for h in &hosts {
                let facts = e.hosts.iter().find(|x| x.vcenter == v && x.moid == h.moid).unwrap();
                assert!(h.prop("name").unwrap().contains(&facts.name));
                assert!(h.prop("hardware.systemInfo").unwrap().contains(&facts.service_tag));
                assert!(h.prop("config.virtualNicManagerInfo.netConfig").unwrap().contains(&facts.mgmt_ip));
            }
            for o in objects.iter().filter(|o| o.kind == "VirtualMachine") {
                let facts = e.vms.iter().find(|x| x.vcenter == v && x.moid == o.moid).unwrap();
                assert!(o.prop("guest.net").unwrap().contains(&format!(">{}<", facts.ip)), "{}", facts.name);
            }
            for o in objects.iter().filter(|o| o.kind == "ClusterComputeResource") {
                assert!(e.vcenters[v].clusters.iter().any(|c| o.prop("name").unwrap().contains(&format!(">{c}<"))));
            }
            assert_eq!(topo.clusters.len(), e.vcenters[v].clusters.len());
        }
    }
}
