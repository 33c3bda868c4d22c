//! Fuzzing the SOAP reader and the property parser with proptest: random bytes, and
//! vSphere answers mutated (truncated, spliced, flipped, nested deep, given huge attribute
//! values). Whatever arrives, the result is records or a typed error — never a panic, a
//! hang, or an expanded entity.
//!
//! CI runs a modest number of cases. The long run (see the `vcenter` module docs):
//! `EIO_FUZZ_SECONDS=600 cargo test --release -p eio-connectors --test vcenter_fuzz -- --nocapture long_fuzz_run`
use std::time::{Duration, Instant};

use eio_connectors::vcenter::xml::parse_document;
use eio_connectors::vcenter::{inventory_from_page, VcenterError};
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::TestRunner;

const PAGE: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<soapenv:Envelope xmlns:soapenc="http://schemas.xmlsoap.org/soap/encoding/" xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><soapenv:Body><RetrievePropertiesExResponse xmlns="urn:vim25"><returnval><token>42</token>
<objects><obj type="Folder">group-v3</obj><propSet><name>name</name><val xsi:type="xsd:string">vm</val></propSet><propSet><name>parent</name><val xsi:type="ManagedObjectReference" type="Datacenter">datacenter-2</val></propSet></objects>
<objects><obj type="Datacenter">datacenter-2</obj><propSet><name>name</name><val xsi:type="xsd:string">DC0</val></propSet><propSet><name>parent</name><val xsi:type="ManagedObjectReference" type="Folder">group-d1</val></propSet></objects>
<objects><obj type="ClusterComputeResource">domain-c7</obj><propSet><name>configuration.drsConfig.enabled</name><val xsi:type="xsd:boolean">true</val></propSet><propSet><name>configurationEx</name><val xsi:type="ClusterConfigInfoEx"><dasConfig><enabled>true</enabled><admissionControlEnabled>true</admissionControlEnabled><admissionControlPolicy xsi:type="ClusterFailoverHostAdmissionControlPolicy"><failoverHosts type="HostSystem">host-21</failoverHosts></admissionControlPolicy></dasConfig><drsConfig><enabled>true</enabled><defaultVmBehavior>fullyAutomated</defaultVmBehavior></drsConfig><drsVmConfig><key type="VirtualMachine">vm-42</key><enabled>false</enabled></drsVmConfig><rule xsi:type="ClusterVmHostRuleInfo"><name>r</name><enabled>true</enabled><mandatory>true</mandatory><vmGroupName>g</vmGroupName><antiAffineHostGroupName>h</antiAffineHostGroupName></rule><group xsi:type="ClusterVmGroup"><name>g</name><vm type="VirtualMachine">vm-42</vm></group></val></propSet></objects>
<objects><obj type="Datastore">datastore-5</obj><propSet><name>name</name><val xsi:type="xsd:string">ds5</val></propSet><propSet><name>host</name><val xsi:type="ArrayOfDatastoreHostMount"><DatastoreHostMount><key type="HostSystem">host-21</key><mountInfo><mounted>true</mounted></mountInfo></DatastoreHostMount></val></propSet></objects>
<objects><obj type="HostSystem">host-21</obj><propSet><name>hardware.systemInfo</name><val xsi:type="HostSystemInfo"><vendor>Dell Inc.</vendor><model>PowerEdge R740</model><uuid>4c4c4544-0042</uuid><otherIdentifyingInfo><identifierValue>ABC1234</identifierValue><identifierType><label>Service tag</label><summary>x</summary><key>ServiceTag</key></identifierType></otherIdentifyingInfo></val></propSet><propSet><name>config.virtualNicManagerInfo.netConfig</name><val xsi:type="ArrayOfVirtualNicManagerNetConfig"><VirtualNicManagerNetConfig><nicType>management</nicType><candidateVnic><device>vmk0</device><key>k0</key><spec><ip><ipAddress>10.0.0.5</ipAddress></ip></spec></candidateVnic><selectedVnic>k0</selectedVnic></VirtualNicManagerNetConfig></val></propSet><propSet><name>summary.hardware.memorySize</name><val xsi:type="xsd:long">68719476736</val></propSet></objects>
<objects><obj type="VirtualMachine">vm-42</obj><propSet><name>name</name><val xsi:type="xsd:string">web &amp; db&#33;</val></propSet><propSet><name>parent</name><val xsi:type="ManagedObjectReference" type="Folder">group-v3</val></propSet><propSet><name>runtime.host</name><val xsi:type="ManagedObjectReference" type="HostSystem">host-21</val></propSet><propSet><name>runtime.powerState</name><val xsi:type="VirtualMachinePowerState">poweredOn</val></propSet><propSet><name>config.hardware.numCPU</name><val xsi:type="xsd:int">4</val></propSet><propSet><name>config.hardware.device</name><val xsi:type="ArrayOfVirtualDevice"><VirtualDevice xsi:type="VirtualVmxnet3"><key>4000</key><deviceInfo><label>Network adapter 1</label></deviceInfo><backing xsi:type="VirtualEthernetCardDistributedVirtualPortBackingInfo"><port><portgroupKey>dvportgroup-9</portgroupKey></port></backing><connectable><connected>true</connected></connectable><macAddress>00:50:56:AA:BB:CC</macAddress></VirtualDevice><VirtualDevice xsi:type="VirtualCdrom"><key>3000</key><deviceInfo><label>CD/DVD drive 1</label></deviceInfo><backing xsi:type="VirtualCdromPassthroughBackingInfo"><deviceName>cdrom0</deviceName></backing><connectable><connected>true</connected></connectable></VirtualDevice></val></propSet><propSet><name>datastore</name><val xsi:type="ArrayOfManagedObjectReference"><ManagedObjectReference type="Datastore">datastore-5</ManagedObjectReference></val></propSet><propSet><name>guest.net</name><val xsi:type="ArrayOfGuestNicInfo"><GuestNicInfo><macAddress>00:50:56:aa:bb:cc</macAddress><ipAddress>10.1.2.3</ipAddress><ipConfig><ipAddress><ipAddress>10.1.2.3</ipAddress><prefixLength>24</prefixLength><state>preferred</state></ipAddress></ipConfig></GuestNicInfo></val></propSet><propSet><name>snapshot.rootSnapshotList</name><val xsi:type="ArrayOfVirtualMachineSnapshotTree"><VirtualMachineSnapshotTree><name>a</name><childSnapshotList><name>b</name><childSnapshotList><name>c</name></childSnapshotList></childSnapshotList></VirtualMachineSnapshotTree></val></propSet><propSet><name>customValue</name><val xsi:type="ArrayOfCustomFieldValue"><CustomFieldValue xsi:type="CustomFieldStringValue"><key>201</key><value>alice</value></CustomFieldValue></val></propSet><missingSet><path>config.annotation</path><fault><fault xsi:type="NoPermission"></fault><localizedMessage>no</localizedMessage></fault></missingSet></objects>
</returnval></RetrievePropertiesExResponse></soapenv:Body></soapenv:Envelope>"#;

const FAULT: &str = r#"<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><soapenv:Body><soapenv:Fault><faultcode>ServerFaultCode</faultcode><faultstring>The object has already been deleted</faultstring><detail><ManagedObjectNotFoundFault xmlns="urn:vim25" xsi:type="ManagedObjectNotFound"><obj type="VirtualMachine">vm-1</obj></ManagedObjectNotFoundFault></detail></soapenv:Fault></soapenv:Body></soapenv:Envelope>"#;

const BOMB: &str = r#"<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]><soapenv:Envelope xmlns:soapenv="x"><soapenv:Body><R><returnval><objects><obj type="VirtualMachine">vm-1</obj><propSet><name>name</name><val>&b;</val></propSet></objects></returnval></R></soapenv:Body></soapenv:Envelope>"#;

const SEEDS: &[&str] = &[PAGE, FAULT, BOMB];

/// XML-ish fragments that make mutations interesting.
const TOKENS: &[&str] = &[
    "<",
    ">",
    "</",
    "/>",
    "&",
    "&amp;",
    "&#0;",
    "&#x110000;",
    "&lol;",
    "<![CDATA[x]]>",
    "<!--",
    "-->",
    "<!DOCTYPE x>",
    "<!ENTITY e \"v\">",
    "<?pi x?>",
    "\"",
    "'",
    "xsi:type=\"",
    " type=\"VirtualMachine\"",
    "<objects>",
    "</objects>",
    "<propSet><name>guest.net</name><val>",
    "</val></propSet>",
    "<obj type=\"HostSystem\">host-1</obj>",
    "\u{0}",
    "\u{feff}",
    "é",
    "\u{1F600}",
    "<soapenv:Fault>",
    "<token>",
    "</returnval>",
];

#[derive(Debug, Clone)]
enum Mutation {
    Truncate(usize),
    Insert(usize, usize),
    Delete(usize, usize),
    Flip(usize, u8),
    Duplicate(usize, usize),
    Nest(usize, usize),
    HugeAttribute(usize, usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        any::<usize>().prop_map(Mutation::Truncate),
        (any::<usize>(), 0..TOKENS.len()).prop_map(|(a, b)| Mutation::Insert(a, b)),
        (any::<usize>(), 0usize..64).prop_map(|(a, b)| Mutation::Delete(a, b)),
        (any::<usize>(), any::<u8>()).prop_map(|(a, b)| Mutation::Flip(a, b)),
        (any::<usize>(), 0usize..400).prop_map(|(a, b)| Mutation::Duplicate(a, b)),
        (any::<usize>(), 1usize..2000).prop_map(|(a, b)| Mutation::Nest(a, b)),
        (any::<usize>(), 1usize..1_000_000).prop_map(|(a, b)| Mutation::HugeAttribute(a, b)),
    ]
}

fn apply(seed: &str, mutations: &[Mutation]) -> Vec<u8> {
    let mut doc = seed.as_bytes().to_vec();
    for m in mutations {
        let at = |i: usize, doc: &Vec<u8>| if doc.is_empty() { 0 } else { i % (doc.len() + 1) };
        match *m {
            Mutation::Truncate(i) => {
                let i = at(i, &doc);
                doc.truncate(i)
            }
            Mutation::Insert(i, t) => {
                let i = at(i, &doc);
                doc.splice(i..i, TOKENS[t].bytes());
            }
            Mutation::Delete(i, n) => {
                let i = at(i, &doc);
                let end = (i + n).min(doc.len());
                doc.drain(i..end);
            }
            Mutation::Flip(i, b) => {
                if !doc.is_empty() {
                    let i = i % doc.len();
                    doc[i] ^= b;
                }
            }
            Mutation::Duplicate(i, n) => {
                let i = at(i, &doc);
                let end = (i + n).min(doc.len());
                let piece = doc[i..end].to_vec();
                doc.splice(end..end, piece);
            }
            Mutation::Nest(i, depth) => {
                let i = at(i, &doc);
                let mut s = "<val xsi:type=\"x\">".repeat(depth);
                s.push_str(&"</val>".repeat(depth));
                doc.splice(i..i, s.into_bytes());
            }
            Mutation::HugeAttribute(i, len) => {
                let i = at(i, &doc);
                let s = format!("<val xsi:type=\"{}\" type=\"{}\">", "A".repeat(len), "&amp;".repeat(len / 5));
                doc.splice(i..i, s.into_bytes());
            }
        }
    }
    doc
}

/// Whatever the bytes, the reader answers without panicking.
fn check(bytes: &[u8]) {
    match inventory_from_page(bytes) {
        Ok(inv) => {
            for vm in &inv.vms {
                assert!(vm.snapshot_count <= 100_000);
            }
        }
        Err(VcenterError::Malformed { .. }) | Err(VcenterError::Fault { .. }) => {}
        Err(other) => panic!("unexpected error kind: {other:?}"),
    }
    let _ = parse_document(bytes);
}

fn input() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..2048),
        (0..SEEDS.len(), proptest::collection::vec(mutation(), 1..6)).prop_map(|(s, m)| apply(SEEDS[s], &m)),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, failure_persistence: None, ..ProptestConfig::default() })]
    #[test]
    fn any_input_is_records_or_a_typed_error(bytes in input()) {
        check(&bytes);
    }
}

#[test]
fn the_seeds_parse_as_expected() {
    let inv = inventory_from_page(PAGE.as_bytes()).expect("the page parses");
    assert_eq!(inv.vms.len(), 1);
    let vm = &inv.vms[0];
    assert_eq!(vm.name, "web & db!");
    assert_eq!(vm.snapshot_count, 3);
    assert_eq!(vm.nics[0].mac, "00:50:56:aa:bb:cc");
    assert_eq!(vm.guest_ips[0].ip, "10.1.2.3");
    assert_eq!(vm.folder_path, None, "the chain stops at a datacenter whose parent is not on the page");
    assert_eq!(inv.hosts[0].service_tag.as_deref(), Some("ABC1234"));
    assert_eq!(inv.hosts[0].management_ips, ["10.0.0.5"]);
    assert_eq!(inv.hosts[0].memory_mb, Some(65536));
    assert_eq!(vm.mobility.devices.iter().map(|d| d.key).collect::<Vec<_>>(), [Some(3000)]);
    assert_eq!(vm.mobility.datastores, ["datastore-5"]);
    let drs = inv.clusters[0].drs.as_ref().expect("configurationEx");
    let ha = drs.ha.as_ref().expect("HA admission control");
    assert_eq!(
        (drs.rules.len(), ha.failover_hosts, ha.failover_host_moids.as_slice()),
        (1, None, &["host-21".to_owned()][..])
    );
    assert_eq!(inv.datastores[0].hosts.as_deref(), Some(&["host-21".to_owned()][..]));
    assert_eq!(inv.warnings, ["VirtualMachine.config.annotation: NoPermission"]);
    assert!(matches!(inventory_from_page(FAULT.as_bytes()), Err(VcenterError::Fault { .. })));
    assert!(matches!(inventory_from_page(BOMB.as_bytes()), Err(VcenterError::Malformed { .. })));
}

/// Runs for `EIO_FUZZ_SECONDS` (default 2) and prints how many inputs it tried.
#[test]
fn long_fuzz_run() {
    let seconds: u64 = std::env::var("EIO_FUZZ_SECONDS").ok().and_then(|s| s.parse().ok()).unwrap_or(2);
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let mut runner = TestRunner::default();
    let strategy = input();
    let mut tried = 0u64;
    while Instant::now() < deadline {
        let tree = strategy.new_tree(&mut runner).expect("a generated input");
        check(&tree.current());
        tried += 1;
    }
    println!("vcenter fuzz: {tried} inputs in {seconds} s, no failure");
}
