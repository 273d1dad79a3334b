//! `tollgate usage` (docs/reference/cli.md): reads one raw provider response (a JSON body, SSE text, JSON
//! Lines of stream payloads or a raw AWS event stream; auto-detected) from a file or stdin,
//! streaming, and prints its normalized line items as one JSON object.

use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use tollgate_engine::extract::{Accumulator, LineItem, Provider};

/// Size of each read from the input; the accumulator keeps no more than it needs.
const READ_CHUNK_BYTES: usize = 64 * 1024;

/// The providers, as command-line values.
#[derive(Clone, Copy, clap::ValueEnum)]
pub enum ProviderArg {
    /// OpenAI Chat Completions / Responses (also Azure OpenAI).
    #[value(name = "openai")]
    OpenAi,
    /// Anthropic Messages (also Bedrock InvokeModel bodies and InvokeModelWithResponseStream).
    #[value(name = "anthropic")]
    Anthropic,
    /// Bedrock Converse / ConverseStream (needs --model).
    #[value(name = "bedrock")]
    Bedrock,
    /// Gemini generateContent / streamGenerateContent (also Vertex AI).
    #[value(name = "gemini")]
    Gemini,
    /// OpenAI-compatible: OpenRouter, Groq, vLLM, DeepSeek, xAI, Mistral, Moonshot, Perplexity, …
    #[value(name = "openai_compatible")]
    OpenAiCompatible,
}

impl From<ProviderArg> for Provider {
    fn from(p: ProviderArg) -> Provider {
        match p {
            ProviderArg::OpenAi => Provider::OpenAi,
            ProviderArg::Anthropic => Provider::Anthropic,
            ProviderArg::Bedrock => Provider::Bedrock,
            ProviderArg::Gemini => Provider::Gemini,
            ProviderArg::OpenAiCompatible => Provider::OpenAiCompatible,
        }
    }
}

/// Flags of `tollgate usage`.
#[derive(clap::Args)]
#[command(
    after_help = "Prints {\"lineItems\": [...]} on stdout (plus \"warnings\" when there are any). \
Errors go to stderr as `tollgate usage: <kind>: <message>` with exit status 1."
)]
pub struct Args {
    /// Whose response it is.
    #[arg(long, value_enum)]
    provider: ProviderArg,
    /// The model of the request: required for bedrock (its bodies never name it), otherwise
    /// used only when the response names no model.
    #[arg(long)]
    model: Option<String>,
    /// The response file; `-` or nothing reads stdin.
    file: Option<PathBuf>,
}

/// Runs the subcommand.
pub fn run(args: Args) -> ExitCode {
    match extract(&args) {
        Ok(items) => {
            let out = render(&items);
            let mut stdout = std::io::stdout().lock();
            if writeln!(stdout, "{out}")
                .and_then(|()| stdout.flush())
                .is_err()
            {
                eprintln!("tollgate usage: io: cannot write to stdout");
                return ExitCode::from(1);
            }
            ExitCode::SUCCESS
        }
        Err(msg) => {
            eprintln!("tollgate usage: {msg}");
            ExitCode::from(1)
        }
    }
}

fn extract(args: &Args) -> Result<Vec<LineItem>, String> {
    let mut acc = Accumulator::new(args.provider.into(), args.model.as_deref())
        .map_err(|e| format!("{}: {e}", e.kind()))?;
    let mut input: Box<dyn Read> = match &args.file {
        None => Box::new(std::io::stdin().lock()),
        Some(p) if p.as_os_str() == "-" => Box::new(std::io::stdin().lock()),
        Some(p) => Box::new(
            std::fs::File::open(p).map_err(|e| format!("io: cannot open {}: {e}", p.display()))?,
        ),
    };
    let mut buf = vec![0u8; READ_CHUNK_BYTES];
    loop {
        let n = match input.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(format!("io: cannot read the input: {e}")),
        };
        acc.feed(&buf[..n])
            .map_err(|e| format!("{}: {e}", e.kind()))?;
    }
    acc.finish().map_err(|e| format!("{}: {e}", e.kind()))
}

/// `{"lineItems":[…]}`, plus `"warnings":[…]` when any line item has warnings.
fn render(items: &[LineItem]) -> String {
    let mut out = String::from("{\"lineItems\":[");
    for (k, li) in items.iter().enumerate() {
        if k > 0 {
            out.push(',');
        }
        out.push_str(&li.to_json());
    }
    out.push(']');
    let warnings: Vec<&String> = items.iter().flat_map(|li| &li.warnings).collect();
    if !warnings.is_empty() {
        out.push_str(",\"warnings\":");
        out.push_str(&serde_json::to_string(&warnings).unwrap_or_else(|_| "[]".to_string()));
    }
    out.push('}');
    out
}
