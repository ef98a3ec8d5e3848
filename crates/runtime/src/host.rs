//! Host functions callable with `externcall` (§9).

use mir::{ExternSig, ExternSigs, Type};

/// The standard host functions of §9, by name and signature.
pub struct StandardHost {
    sigs: Vec<(&'static str, ExternSig)>,
}

impl StandardHost {
    /// The standard set.
    pub fn new() -> StandardHost {
        let sig = |params: &[Type], ret: Option<Type>| ExternSig { params: params.to_vec(), ret };
        let sigs = vec![
            ("env.console.log", sig(&[Type::Box], None)),
            ("env.console.print", sig(&[Type::Box], None)),
            ("env.console.error", sig(&[Type::Box], None)),
            ("env.io.readLine", sig(&[], Some(Type::Box))),
            ("env.time.nowNanos", sig(&[], Some(Type::I64))),
            ("env.process.args", sig(&[], Some(Type::Box))),
            ("env.fs.readFile", sig(&[Type::Box], Some(Type::Box))),
            ("env.fs.writeFile", sig(&[Type::Box, Type::Box], None)),
            ("env.runtime.checkpoint", sig(&[], None)),
        ];
        StandardHost { sigs }
    }
}

impl Default for StandardHost {
    fn default() -> Self {
        Self::new()
    }
}

impl ExternSigs for StandardHost {
    fn signature(&self, name: &str) -> Option<&ExternSig> {
        self.sigs.iter().find(|(n, _)| *n == name).map(|(_, s)| s)
    }
}
