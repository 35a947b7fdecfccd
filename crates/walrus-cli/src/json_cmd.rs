//! `walrus json`: one command given as JSON on standard input, as the reference CLI takes it
//! (`{"config": PATH, "command": {"store": {"files": [PATH], "epochs": 2}}}`), run with JSON
//! output. Command and field names are camelCase forms of the subcommand and its arguments
//! (`blobStatus`, `blobId`); the arguments come from the same definitions as the command line's,
//! so every command that has flags has the same ones here.

use anyhow::{bail, Context, Result};
use clap::CommandFactory;

/// Most bytes read from standard input.
pub const INPUT_BYTES_MAX: u64 = 1 << 20;

fn snake(camel: &str) -> String {
    let mut out = String::new();
    for c in camel.chars() {
        if c.is_ascii_uppercase() {
            out.push('_');
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

fn text(value: &serde_json::Value) -> Result<String> {
    match value {
        serde_json::Value::String(s) => Ok(s.clone()),
        serde_json::Value::Number(n) => Ok(n.to_string()),
        other => bail!("expected a string or a number, got {other}"),
    }
}

/// The command line (`walrus <command> ... --json`) that `input` stands for, for a CLI
/// described by `cli`.
pub fn to_args(cli: &clap::Command, input: &serde_json::Value) -> Result<Vec<String>> {
    let object = input.as_object().context("the input is not a JSON object")?;
    let command = object.get("command").and_then(|c| c.as_object()).context("no \"command\" object")?;
    let (name, fields) = match command.iter().collect::<Vec<_>>().as_slice() {
        [(name, fields)] => (name.as_str(), *fields),
        _ => bail!("\"command\" must hold exactly one command"),
    };
    let sub_name = snake(name).replace('_', "-");
    if sub_name == "json" {
        bail!("`json` cannot run itself");
    }
    let sub = cli.find_subcommand(&sub_name).with_context(|| format!("unknown command {name:?}"))?;
    let mut args = vec!["walrus".to_string(), sub_name.clone()];
    // After `--`, so that a value starting with `-` (a blob ID may) is not read as a flag.
    let mut positional = Vec::new();
    let empty = serde_json::Map::new();
    let fields = match fields {
        serde_json::Value::Object(fields) => fields,
        serde_json::Value::Null => &empty,
        _ => bail!("the arguments of {name:?} are not an object"),
    };
    for (key, value) in fields {
        let id = snake(key);
        let arg = sub.get_arguments().find(|a| a.get_id().as_str() == id);
        let arg = arg.with_context(|| format!("{name:?} has no argument {key:?}"))?;
        let values: Vec<&serde_json::Value> = match value {
            serde_json::Value::Array(items) => items.iter().collect(),
            serde_json::Value::Null => continue,
            one => vec![one],
        };
        if arg.is_positional() {
            for value in values {
                positional.push(text(value)?);
            }
            continue;
        }
        let long = arg.get_long().with_context(|| format!("{key:?} has no long flag"))?;
        for value in values {
            match value {
                serde_json::Value::Bool(true) => args.push(format!("--{long}")),
                serde_json::Value::Bool(false) => {}
                other => args.extend([format!("--{long}"), text(other)?]),
            }
        }
    }
    if let Some(config) = object.get("config").filter(|c| !c.is_null()) {
        args.extend(["--config".to_string(), text(config)?]);
    }
    if let Some(context) = object.get("context").filter(|c| !c.is_null()) {
        args.extend(["--context".to_string(), text(context)?]);
    }
    // The wallet as the reference's global `--wallet`: before the subcommand.
    if let Some(wallet) = object.get("wallet").filter(|w| !w.is_null()) {
        args.splice(1..1, ["--wallet".to_string(), text(wallet)?]);
    }
    args.push("--json".into());
    if !positional.is_empty() {
        args.push("--".into());
        args.extend(positional);
    }
    Ok(args)
}

/// Reads the command from standard input (or `inline`) and returns its command line.
pub fn read_args(inline: Option<&str>) -> Result<Vec<String>> {
    let input = match inline {
        Some(text) => text.to_string(),
        None => {
            use std::io::Read as _;
            let mut text = String::new();
            std::io::stdin()
                .take(INPUT_BYTES_MAX + 1)
                .read_to_string(&mut text)
                .context("cannot read standard input")?;
            if text.len() as u64 > INPUT_BYTES_MAX {
                bail!("the JSON command is over {INPUT_BYTES_MAX} bytes");
            }
            text
        }
    };
    let value: serde_json::Value = serde_json::from_str(&input).context("the input is not JSON")?;
    to_args(&crate::Cli::command(), &value)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn args(input: serde_json::Value) -> Result<Vec<String>> {
        to_args(&crate::Cli::command(), &input)
    }

    #[test]
    fn the_reference_examples_become_command_lines() {
        let store =
            json!({ "config": "c.yaml", "command": { "store": { "files": ["a", "b"], "epochs": 2 } } });
        assert_eq!(
            args(store).expect("store"),
            ["walrus", "store", "--epochs", "2", "--config", "c.yaml", "--json", "--", "a", "b"]
        );
        let read =
            json!({ "command": { "read": { "blobId": "-X", "strictConsistencyCheck": true, "out": null } } });
        let line = args(read).expect("read");
        assert_eq!(line, ["walrus", "read", "--strict-consistency-check", "--json", "--", "-X"]);
        // `-X` reaches the blob ID's parser (which refuses it) instead of being taken for a flag.
        let error = <crate::Cli as clap::Parser>::try_parse_from(&line).expect_err("not a blob ID");
        assert_eq!(error.kind(), clap::error::ErrorKind::ValueValidation, "{error}");
        let status = json!({ "command": { "blobStatus": { "blobId": "X" } } });
        assert_eq!(args(status).expect("status"), ["walrus", "blob-status", "--blob-id", "X", "--json"]);
        let wallet = json!({ "wallet": "w.key", "context": "local", "command": { "info": null } });
        let line = args(wallet).expect("info");
        assert_eq!(line, ["walrus", "--wallet", "w.key", "info", "--context", "local", "--json"]);
        <crate::Cli as clap::Parser>::try_parse_from(&line).expect("a valid command line");
    }

    #[test]
    fn bad_commands_are_refused_with_a_reason() {
        for (input, why) in [
            (json!([]), "not a JSON object"),
            (json!({ "command": {} }), "exactly one"),
            (json!({ "command": { "fly": {} } }), "unknown command"),
            (json!({ "command": { "json": {} } }), "cannot run itself"),
            (json!({ "command": { "read": { "colour": 1 } } }), "no argument"),
            (json!({ "command": { "read": { "blobId": {} } } }), "a string or a number"),
        ] {
            let error = args(input).expect_err(why).to_string();
            assert!(error.contains(why), "{error}");
        }
    }
}
