//! Where items come from: one folder per source, each turning one scope of an account (a
//! project, or the account as a whole) into observations with a stable identity.
//! Today: [`codearts`], the CodeArts package API.

pub mod codearts;
