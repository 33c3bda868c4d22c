//! The closed sets of words the inventory cache and its sync ledger store: power, health
//! and connection states, iDRAC generations and drivers, how a server was mapped to its
//! host, firmware compliance, and how a sync ended. Each is a PostgreSQL enum of the same
//! name (`migrations/0005_inventory.sql`, `0007`, `0011`) declared once here through
//! [`db_enum!`](crate::db::db_enum), so rows, pages, the generated TypeScript client and the
//! command line agree on the spelling. `db::tests` fails when a PostgreSQL enum has no
//! declaration or a label differs.
use crate::db::db_enum;

db_enum! {
    /// A VM's power state as vCenter reports it.
    pub enum VmPowerState: "vm_power_state", "VM power state" {
        PoweredOn = "powered_on",
        PoweredOff = "powered_off",
        Suspended = "suspended",
    }
}

db_enum! {
    /// VMware Tools in the guest.
    pub enum VmToolsStatus: "vm_tools_status", "VMware Tools status" {
        Ok = "ok",
        Old = "old",
        NotRunning = "not_running",
        NotInstalled = "not_installed",
    }
}

db_enum! {
    /// An ESXi host's connection to its vCenter.
    pub enum HostConnectionState: "host_connection_state", "host connection state" {
        Connected = "connected",
        Disconnected = "disconnected",
        NotResponding = "not_responding",
    }
}

db_enum! {
    /// An ESXi host's power state.
    pub enum HostPowerState: "host_power_state", "host power state" {
        PoweredOn = "powered_on",
        PoweredOff = "powered_off",
        Standby = "standby",
        Unknown = "unknown",
    }
}

db_enum! {
    /// An iDRAC's generation, spelt as Dell does.
    pub enum IdracGeneration: "idrac_generation", "iDRAC generation" {
        #[serde(rename = "iDRAC7")]
        #[sqlx(rename = "iDRAC7")]
        Idrac7 = "iDRAC7",
        #[serde(rename = "iDRAC8")]
        #[sqlx(rename = "iDRAC8")]
        Idrac8 = "iDRAC8",
        #[serde(rename = "iDRAC9")]
        #[sqlx(rename = "iDRAC9")]
        Idrac9 = "iDRAC9",
    }
}

db_enum! {
    /// How EIO talks to an iDRAC.
    pub enum IdracDriver: "idrac_driver", "iDRAC driver" {
        Redfish = "redfish",
        Wsman = "wsman",
        Racadm = "racadm",
    }
}

db_enum! {
    /// A Dell server's power state as its iDRAC reports it.
    pub enum ServerPowerState: "server_power_state", "server power state" {
        On = "on",
        Off = "off",
        PoweringOn = "powering_on",
        PoweringOff = "powering_off",
        Unknown = "unknown",
    }
}

db_enum! {
    /// A Dell server's (or component's) health rollup.
    pub enum HealthState: "health_state", "health state" {
        Ok = "ok",
        Warning = "warning",
        Critical = "critical",
        Unknown = "unknown",
    }
}

db_enum! {
    /// How a server was matched to its ESXi host.
    pub enum MappingMethod: "mapping_method", "mapping method" {
        ServiceTag = "service_tag",
        Uuid = "uuid",
        Naming = "naming",
        Attribute = "attribute",
        Manual = "manual",
    }
}

db_enum! {
    /// Whether a server-to-host mapping holds.
    pub enum MappingStatus: "mapping_status", "mapping status" {
        Active = "active",
        Ambiguous = "ambiguous",
        Rejected = "rejected",
    }
}

db_enum! {
    /// A firmware component against its baseline.
    pub enum ComplianceStatus: "compliance_status", "compliance status" {
        Compliant = "compliant",
        Upgrade = "upgrade",
        Downgrade = "downgrade",
        Unknown = "unknown",
    }
}

db_enum! {
    /// How a sync ended (or that it is still running).
    pub enum SyncOutcome: "sync_outcome", "sync outcome" {
        Running = "running",
        Succeeded = "succeeded",
        Partial = "partial",
        Failed = "failed",
    }
}

db_enum! {
    /// A full sync or a delta from the change stream.
    pub enum SyncKind: "sync_kind", "sync kind" {
        Full = "full",
        Delta = "delta",
    }
}

db_enum! {
    /// What a sync did to one object, in the change ledger.
    pub enum ChangeKind: "change_kind", "change kind" {
        Created = "created",
        Updated = "updated",
        Removed = "removed",
        Restored = "restored",
    }
}
