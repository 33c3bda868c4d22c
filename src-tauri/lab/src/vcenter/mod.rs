//! (vcenter simulator: being written.)
