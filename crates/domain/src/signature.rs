//! Request signatures (contract §7.1). (STUB: being written)
