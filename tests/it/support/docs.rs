//! Helpers for the tests that check documents against the binary: commands read out of the CI
//! examples and the runbook (`completions`, `workflows`), and the field paths of JSON output
//! checked against docs/json-output.md (`plan_cli`, `workflows`).

/// Splits a shell line into words at whitespace, honouring single and double quotes, and
/// cuts it into simple commands at the control operators (`;`, `&&`, `||`, `|`, `(`, `)`,
/// `$(`). Enough for the plain commands CI files run; a word like `"edas-rollback CI"` stays
/// one word and is never mistaken for a command.
pub(crate) fn simple_commands(line: &str) -> Vec<Vec<String>> {
    let mut commands = vec![Vec::new()];
    let mut word = String::new();
    let mut in_word = false;
    let mut quote: Option<char> = None;
    let mut characters = line.chars().peekable();
    let end_word = |word: &mut String, in_word: &mut bool, commands: &mut Vec<Vec<String>>| {
        if *in_word {
            commands.last_mut().unwrap().push(std::mem::take(word));
            *in_word = false;
        }
    };
    while let Some(character) = characters.next() {
        match (quote, character) {
            (Some(open), _) if character == open => quote = None,
            (Some(_), _) => word.push(character),
            (None, '\'' | '"') => {
                quote = Some(character);
                in_word = true;
            }
            (None, '#') if !in_word => break,
            (None, ';' | '|' | '&' | '(' | ')' | '`') => {
                end_word(&mut word, &mut in_word, &mut commands);
                commands.push(Vec::new());
            }
            (None, '$') if characters.peek() == Some(&'(') => {
                characters.next();
                end_word(&mut word, &mut in_word, &mut commands);
                commands.push(Vec::new());
            }
            (None, character) if character.is_whitespace() => {
                end_word(&mut word, &mut in_word, &mut commands);
            }
            (None, character) => {
                word.push(character);
                in_word = true;
            }
        }
    }
    end_word(&mut word, &mut in_word, &mut commands);
    commands.retain(|command| !command.is_empty());
    commands
}

/// The `edas-rollback …` invocations in a shell script, as argv (without redirections).
pub(crate) fn invocations(script: &str) -> Vec<Vec<String>> {
    let joined = script.replace("\\\n", " ");
    let mut found = Vec::new();
    for line in joined.lines() {
        for mut words in simple_commands(line) {
            // Skip what may stand before a command: keywords and `NAME=value` assignments.
            while let Some(first) = words.first() {
                let keyword = matches!(first.as_str(), "then" | "else" | "do" | "!" | "time");
                let assignment = first
                    .split_once('=')
                    .is_some_and(|(name, _)| !name.is_empty() && !name.starts_with('-'));
                if keyword || assignment {
                    words.remove(0);
                } else {
                    break;
                }
            }
            if words.first().map(String::as_str) != Some("edas-rollback") {
                continue;
            }
            let redirection = words.iter().position(|word| {
                let word = word.trim_start_matches(|c: char| c.is_ascii_digit());
                word.starts_with('>') || word.starts_with('<')
            });
            words.truncate(redirection.unwrap_or(words.len()));
            found.push(words);
        }
    }
    found
}

/// Every field path in a JSON value, as docs/json-output.md writes them: `a.b`, `list[].c`.
pub(crate) fn collect_paths(
    value: &serde_json::Value,
    prefix: &str,
    paths: &mut std::collections::BTreeSet<String>,
) {
    match value {
        serde_json::Value::Object(map) => {
            for (key, child) in map {
                let path = if prefix.is_empty() {
                    key.clone()
                } else {
                    format!("{prefix}.{key}")
                };
                paths.insert(path.clone());
                collect_paths(child, &path, paths);
            }
        }
        serde_json::Value::Array(items) => {
            for item in items {
                collect_paths(item, &format!("{prefix}[]"), paths);
            }
        }
        _ => {}
    }
}
