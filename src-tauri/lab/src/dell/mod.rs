//! (dell simulator: being written.)
