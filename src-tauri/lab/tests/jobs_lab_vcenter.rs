//! The lab vCenter's job simulation seen from the wire: its TaskInfo has vcsim's structure,
//! its drsFault is vSphere's ClusterDrsFaults, TraversalSpecs reach what they name, and the
//! ledger records each state-changing call exactly once — refused ones as refused.
use eio_connectors::http::{HttpClient, HttpConfig, TlsPolicy};
use eio_connectors::vcenter::xml::{parse_document, Node};
use eio_lab::vcenter::{LabBlock, LabModel, LabTaskState, LabVcenter, Pace};
use eio_lab::vcsim::Vcsim;

fn small() -> LabModel {
    LabModel::one_cluster(2, 2)
}

async fn soap(http: &HttpClient, url: &str, body: &str) -> Node {
    let envelope = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><soapenv:Envelope xmlns:soapenv=\"http://schemas.xmlsoap.org/soap/envelope/\" \
         xmlns:xsd=\"http://www.w3.org/2001/XMLSchema\" xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\">\
         <soapenv:Body>{body}</soapenv:Body></soapenv:Envelope>"
    );
    let resp = http
        .send(
            http.inner()
                .post(url)
                .header("Content-Type", "text/xml")
                .header("SOAPAction", "urn:vim25/7.0")
                .body(envelope),
        )
        .await
        .unwrap();
    let bytes = http.body(resp).await.unwrap();
    parse_document(&bytes).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&bytes)))
}

async fn login(http: &HttpClient, url: &str, user: &str, password: &str) {
    let r = soap(
        http,
        url,
        &format!(
            "<Login xmlns=\"urn:vim25\"><_this type=\"SessionManager\">SessionManager</_this><userName>{user}</userName>\
             <password>{password}</password></Login>"
        ),
    )
    .await;
    assert!(r.at(&["Body", "LoginResponse"]).is_some(), "{r:?}");
}

fn returnval<'a>(doc: &'a Node, response: &str) -> &'a Node {
    doc.at(&["Body", response, "returnval"]).unwrap_or_else(|| panic!("no {response} returnval: {doc:?}"))
}

/// One property of one object.
async fn property(http: &HttpClient, url: &str, kind: &str, moid: &str, path: &str) -> Node {
    let doc = soap(
        http,
        url,
        &format!(
            "<RetrievePropertiesEx xmlns=\"urn:vim25\"><_this type=\"PropertyCollector\">propertyCollector</_this><specSet>\
             <propSet><type>{kind}</type><pathSet>{path}</pathSet></propSet><objectSet><obj type=\"{kind}\">{moid}</obj>\
             <skip>false</skip></objectSet></specSet><options/></RetrievePropertiesEx>"
        ),
    )
    .await;
    returnval(&doc, "RetrievePropertiesExResponse").at(&["objects", "propSet", "val"]).cloned().expect("val")
}

/// Element names (with xsi types) of a value's children, in order.
fn fields(n: &Node) -> Vec<String> {
    n.children
        .iter()
        .map(|c| match &c.xsi_type {
            Some(t) => format!("{} ({})", c.name, t.rsplit(':').next().unwrap_or(t)),
            None => c.name.to_string(),
        })
        .collect()
}

async fn power_off_task_info(http: &HttpClient, url: &str, vm: &str) -> Node {
    let doc = soap(
        http,
        url,
        &format!("<PowerOffVM_Task xmlns=\"urn:vim25\"><_this type=\"VirtualMachine\">{vm}</_this></PowerOffVM_Task>"),
    )
    .await;
    let task = returnval(&doc, "PowerOffVM_TaskResponse").text.trim().to_owned();
    // Look until it ended (each look is a tick in the lab; vcsim is done at once).
    for _ in 0..10 {
        let info = property(http, url, "Task", &task, "info").await;
        if info.text_of("state").map(str::trim) == Some("success") {
            return info;
        }
    }
    panic!("task {task} did not succeed");
}

#[tokio::test]
async fn task_info_has_vcsims_structure() {
    let sim = Vcsim::start(&["-dc", "1", "-cluster", "1", "-host", "1", "-vm", "1", "-autostart=true"]);
    let lab = LabVcenter::start(small()).await.unwrap();
    let client = |tls| HttpClient::new(HttpConfig { tls, cookies: true, ..Default::default() }).unwrap();

    let theirs_http = client(TlsPolicy::Pinned(sim.thumbprint));
    login(&theirs_http, sim.sdk_url.as_str(), &sim.username, &sim.password).await;
    let inv = eio_connectors::vcenter::Session::login(&sim.config()).await.unwrap().inventory().await.unwrap();
    let vm = inv
        .vms
        .iter()
        .find(|v| v.power_state == Some(eio_connectors::vcenter::VmPowerState::PoweredOn))
        .expect("a running VM");
    let theirs = power_off_task_info(&theirs_http, sim.sdk_url.as_str(), &vm.moid).await;

    let ours_http = client(TlsPolicy::Pinned(lab.thumbprint));
    login(&ours_http, &lab.sdk_url, lab.username(), lab.password()).await;
    let ours = power_off_task_info(&ours_http, &lab.sdk_url, "vm-5000").await;

    assert_eq!(ours.xsi_type.as_deref(), Some("TaskInfo"));
    assert_eq!(fields(&ours), fields(&theirs), "the lab's TaskInfo differs from vcsim's");
    assert_eq!(ours.text_of("descriptionId"), Some("VirtualMachine.powerOff"));
    assert_eq!(theirs.text_of("descriptionId"), Some("VirtualMachine.powerOff"));
    assert_eq!(lab.action_count("PowerOffVM_Task", "vm-5000"), 1);
}

#[tokio::test]
async fn drs_faults_traversals_and_the_ledger_on_the_wire() {
    let lab = LabVcenter::start(small()).await.unwrap();
    lab.set_pace(Pace::Manual);
    let http =
        HttpClient::new(HttpConfig { tls: TlsPolicy::Pinned(lab.thumbprint), cookies: true, ..Default::default() })
            .unwrap();
    let url = lab.sdk_url.clone();
    login(&http, &url, lab.username(), lab.password()).await;

    // A traversal from the cluster to its hosts and from a host to its VMs.
    let doc = soap(
        &http,
        &url,
        "<RetrievePropertiesEx xmlns=\"urn:vim25\"><_this type=\"PropertyCollector\">propertyCollector</_this><specSet>\
         <propSet><type>HostSystem</type><pathSet>name</pathSet></propSet>\
         <propSet><type>VirtualMachine</type><pathSet>name</pathSet></propSet>\
         <objectSet><obj type=\"ClusterComputeResource\">domain-c100</obj><skip>true</skip>\
         <selectSet xsi:type=\"TraversalSpec\"><name>h</name><type>ComputeResource</type><path>host</path><skip>false</skip>\
         <selectSet xsi:type=\"TraversalSpec\"><name>v</name><type>HostSystem</type><path>vm</path><skip>false</skip></selectSet>\
         </selectSet></objectSet></specSet><options/></RetrievePropertiesEx>",
    )
    .await;
    let objects: Vec<String> = returnval(&doc, "RetrievePropertiesExResponse")
        .children_named("objects")
        .map(|o| o.child("obj").unwrap().text.to_string())
        .collect();
    assert_eq!(objects, ["host-1000", "vm-5000", "vm-5001", "host-1001", "vm-5002", "vm-5003"]);

    // A blocked evacuation: the task runs, the cluster reports ClusterDrsFaults.
    lab.block_vm("vm-5001", LabBlock::AffinityRule, "pinned by the lab");
    let doc = soap(
        &http,
        &url,
        "<EnterMaintenanceMode_Task xmlns=\"urn:vim25\"><_this type=\"HostSystem\">host-1000</_this><timeout>0</timeout>\
         </EnterMaintenanceMode_Task>",
    )
    .await;
    let task = returnval(&doc, "EnterMaintenanceMode_TaskResponse").text.trim().to_owned();
    lab.advance(5);
    assert_eq!(lab.task(&task).unwrap().state, LabTaskState::Running);
    assert_eq!(lab.host("host-1000").unwrap().vms, ["vm-5001"]);
    let faults = property(&http, &url, "ClusterComputeResource", "domain-c100", "drsFault").await;
    assert_eq!(faults.xsi_type.as_deref(), Some("ArrayOfClusterDrsFaults"));
    let group = faults.child("ClusterDrsFaults").expect("a ClusterDrsFaults");
    assert_eq!(group.text_of("reason"), Some("hostMaint"));
    let by_vm = group.child("faultsByVm").unwrap();
    assert_eq!(by_vm.xsi_type.as_deref(), Some("ClusterDrsFaultsFaultsByVm"));
    assert_eq!(by_vm.child("vm").unwrap().text, "vm-5001");
    let fault = by_vm.at(&["fault", "fault"]).unwrap();
    assert_eq!(fault.xsi_type.as_deref(), Some("VmHostAffinityRuleViolation"));
    assert_eq!(fault.text_of("vmName"), Some("lab-vm-00001"));
    assert_eq!(by_vm.at(&["fault", "localizedMessage"]).unwrap().text, "pinned by the lab");
    // The mandatory rule shows in configurationEx.
    let cfg = property(&http, &url, "ClusterComputeResource", "domain-c100", "configurationEx").await;
    let rule = cfg.child("rule").expect("a rule");
    assert_eq!(rule.xsi_type.as_deref(), Some("ClusterVmHostRuleInfo"));
    assert_eq!(rule.text_of("mandatory"), Some("true"));

    // Refused calls change nothing and are recorded as refused.
    let doc = soap(
        &http,
        &url,
        "<EnterMaintenanceMode_Task xmlns=\"urn:vim25\"><_this type=\"HostSystem\">host-1000</_this><timeout>0</timeout>\
         </EnterMaintenanceMode_Task>",
    )
    .await;
    assert!(doc.at(&["Body", "Fault"]).is_some(), "a second entry is refused: {doc:?}");
    lab.unblock_vm("vm-5001");
    lab.advance(3);
    assert_eq!(lab.task(&task).unwrap().state, LabTaskState::Success);
    let ledger = lab.actions();
    assert_eq!(ledger.len(), 2);
    assert_eq!(ledger[0].task.as_deref(), Some(task.as_str()));
    assert_eq!(ledger[1].refused.as_deref(), Some("TaskInProgress"));
    assert!(ledger[0].seq < ledger[1].seq && ledger[0].at <= ledger[1].at);
}
