//! What a tensor is, from its name: its `role` in the network and its `layer` index.
//!
//! The rules cover the common naming schemes (Llama/Mistral/Qwen/Mixtral, GPT-2, GPT-NeoX/Falcon,
//! BERT/RoBERTa, ViT (Hugging Face and timm), T5, PyTorch `nn.MultiheadAttention`). A name that no
//! rule recognises gets [`Role::Other`]: an honest "unknown" is better than a wrong guess.

use std::cmp::Ordering;
use std::sync::LazyLock;

use regex::Regex;

/// The function of a weight matrix in the network.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Token embedding table.
    Embedding,
    /// Learned position embedding table.
    PosEmbedding,
    /// Fused query/key/value projection.
    AttnQkv,
    /// Query projection.
    AttnQ,
    /// Key projection.
    AttnK,
    /// Value projection.
    AttnV,
    /// Attention output projection.
    AttnO,
    /// Gate projection of a gated MLP.
    MlpGate,
    /// Up (expansion) projection of an MLP.
    MlpUp,
    /// Down (contraction) projection of an MLP.
    MlpDown,
    /// A convolution kernel (3 or more axes).
    Conv,
    /// Not recognised.
    Other,
    /// Output head onto the vocabulary.
    LmHead,
}

impl Role {
    /// Every role, in display order.
    pub const ALL: [Role; 13] = [
        Role::Embedding,
        Role::PosEmbedding,
        Role::AttnQkv,
        Role::AttnQ,
        Role::AttnK,
        Role::AttnV,
        Role::AttnO,
        Role::MlpGate,
        Role::MlpUp,
        Role::MlpDown,
        Role::Conv,
        Role::Other,
        Role::LmHead,
    ];

    /// The role with this canonical name.
    pub fn from_canonical(name: &str) -> Option<Role> {
        Self::ALL.into_iter().find(|r| r.name() == name)
    }

    /// The canonical name (`attn_q`, `mlp_down`, …).
    pub fn name(self) -> &'static str {
        match self {
            Role::Embedding => "embedding",
            Role::PosEmbedding => "pos_embedding",
            Role::AttnQkv => "attn_qkv",
            Role::AttnQ => "attn_q",
            Role::AttnK => "attn_k",
            Role::AttnV => "attn_v",
            Role::AttnO => "attn_o",
            Role::MlpGate => "mlp_gate",
            Role::MlpUp => "mlp_up",
            Role::MlpDown => "mlp_down",
            Role::Conv => "conv",
            Role::Other => "other",
            Role::LmHead => "lm_head",
        }
    }
}

/// Role and layer of a tensor, as far as its name tells.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TensorIdentity {
    /// What the matrix does.
    pub role: Role,
    /// Index of the transformer block / encoder layer, when the name has one.
    pub layer: Option<u32>,
}

impl TensorIdentity {
    /// Classifies a tensor from its name and its number of axes (as stored).
    pub fn from_name(name: &str, ndim: usize) -> Self {
        // Keras names are paths: `mha/query/kernel`, `transformer_layer_3/.../kernel:0`
        let keras = name.contains('/');
        let (rules, layer_re, module) = if keras {
            let module = name.strip_suffix(":0").unwrap_or(name);
            (&*KERAS_RULES, &*KERAS_LAYER, module.strip_suffix("/kernel").unwrap_or(module))
        } else {
            (&*RULES, &*LAYER, name.strip_suffix(".weight").unwrap_or(name))
        };
        let role = rules.iter().find(|(_, re)| re.is_match(module)).map(|(role, _)| *role).unwrap_or(if ndim >= 3 {
            Role::Conv
        } else {
            Role::Other
        });
        let layer = layer_re.captures(name).and_then(|c| c.get(1)).and_then(|m| m.as_str().parse().ok());
        Self { role, layer }
    }

    /// The order of the table: embeddings, then layer by layer (roles in data-flow order), then
    /// unlayered others, then the head; ties broken by `name`.
    pub fn display_order(a: (&Self, &str), b: (&Self, &str)) -> Ordering {
        fn bucket(id: &TensorIdentity) -> u8 {
            match (id.role, id.layer) {
                (_, Some(_)) => 1,
                (Role::Embedding | Role::PosEmbedding, None) => 0,
                (Role::LmHead, None) => 3,
                (_, None) => 2,
            }
        }
        (bucket(a.0), a.0.layer, a.0.role).cmp(&(bucket(b.0), b.0.layer, b.0.role)).then_with(|| natural_cmp(a.1, b.1))
    }
}

/// Compares names with runs of digits as numbers (`features.2` before `features.10`), then
/// bytewise, so that the order is total and deterministic.
pub fn natural_cmp(a: &str, b: &str) -> Ordering {
    fn chunks(s: &str) -> impl Iterator<Item = (bool, &str)> {
        let mut rest = s;
        std::iter::from_fn(move || {
            let first = rest.chars().next()?;
            let digit = first.is_ascii_digit();
            let end = rest.find(|c: char| c.is_ascii_digit() != digit).unwrap_or(rest.len());
            let (chunk, tail) = rest.split_at(end);
            rest = tail;
            Some((digit, chunk))
        })
    }
    let mut x = chunks(a);
    let mut y = chunks(b);
    loop {
        match (x.next(), y.next()) {
            (None, None) => return a.cmp(b),
            (None, Some(_)) => return Ordering::Less,
            (Some(_), None) => return Ordering::Greater,
            (Some((true, p)), Some((true, q))) => {
                let (p, q) = (p.trim_start_matches('0'), q.trim_start_matches('0'));
                let o = p.len().cmp(&q.len()).then_with(|| p.cmp(q));
                if o != Ordering::Equal {
                    return o;
                }
            }
            (Some((_, p)), Some((_, q))) => {
                if p != q {
                    return p.cmp(q);
                }
            }
        }
    }
}

static LAYER: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?:^|\.)(?:layers|layer|h|blocks|block|blk)\.(\d+)(?:\.|$)").expect("valid regex"));

/// The block index of a Keras layer path (`transformer_layer_3/…`, as Keras Hub names its blocks).
static KERAS_LAYER: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?:^|/)[a-z_]*?(?:layer|block)_(\d+)(?:/|$)").expect("valid regex"));

/// `(role, pattern)` for Keras names, matched against the name without its `/kernel` (`:0`) suffix.
static KERAS_RULES: LazyLock<Vec<(Role, Regex)>> = LazyLock::new(|| {
    let table: [(Role, &str); 9] = [
        (Role::AttnQ, r"(?:^|/)(?:query|query_dense)$"),
        (Role::AttnK, r"(?:^|/)(?:key|key_dense)$"),
        (Role::AttnV, r"(?:^|/)(?:value|value_dense)$"),
        (Role::AttnO, r"(?:^|/)(?:attention_output|output_dense)$"),
        (Role::MlpGate, r"(?:^|/)feedforward_gate_dense$"),
        (Role::MlpUp, r"(?:^|/)feedforward_intermediate_dense$"),
        (Role::MlpDown, r"(?:^|/)feedforward_output_dense$"),
        (Role::PosEmbedding, r"position_embedding[^/]*/(?:embeddings|position_embeddings)$"),
        (Role::Embedding, r"/embeddings$"),
    ];
    table.into_iter().map(|(role, re)| (role, Regex::new(re).expect("valid regex"))).collect()
});

/// `(role, pattern)` in priority order, matched against the name without its `.weight` suffix.
static RULES: LazyLock<Vec<(Role, Regex)>> = LazyLock::new(|| {
    let table: [(Role, &str); 12] = [
        (
            Role::AttnQkv,
            r"(?:^|\.)(?:attn_qkv|attn\.c_attn|qkv_proj|attn\.qkv|attention\.query_key_value|Wqkv|in_proj_weight)$",
        ),
        (
            Role::AttnQ,
            r"(?:^|\.)(?:attn_q|q_proj|attention\.self\.query|attention\.attention\.query|attention\.wq|(?:SelfAttention|EncDecAttention)\.q)$",
        ),
        (
            Role::AttnK,
            r"(?:^|\.)(?:attn_k|k_proj|attention\.self\.key|attention\.attention\.key|attention\.wk|(?:SelfAttention|EncDecAttention)\.k)$",
        ),
        (
            Role::AttnV,
            r"(?:^|\.)(?:attn_v|v_proj|attention\.self\.value|attention\.attention\.value|attention\.wv|(?:SelfAttention|EncDecAttention)\.v)$",
        ),
        (
            Role::AttnO,
            r"(?:^|\.)(?:attn_output|o_proj|(?:self_)?attn\.out_proj|attention\.output\.dense|attn\.c_proj|attn\.proj|attention\.wo|(?:SelfAttention|EncDecAttention)\.o|attention\.dense)$",
        ),
        (
            Role::MlpGate,
            r"(?:^|\.)(?:ffn_gate(?:_exps)?|gate_proj|feed_forward\.w1|experts\.\d+\.w1|DenseReluDense\.wi_0)$",
        ),
        (
            Role::MlpUp,
            r"(?:^|\.)(?:ffn_up(?:_exps)?|up_proj|feed_forward\.w3|experts\.\d+\.w3|mlp\.c_fc|intermediate\.dense|mlp\.fc1|DenseReluDense\.wi|DenseReluDense\.wi_1|mlp\.dense_h_to_4h)$",
        ),
        (
            Role::MlpDown,
            r"(?:^|\.)(?:ffn_down(?:_exps)?|down_proj|feed_forward\.w2|experts\.\d+\.w2|mlp\.c_proj|layers?\.\d+\.output\.dense|mlp\.fc2|DenseReluDense\.wo|mlp\.dense_4h_to_h)$",
        ),
        (Role::Embedding, r"(?:^|\.)(?:token_embd|embed_tokens|word_embeddings|wte|shared|tok_embeddings|embed_in)$"),
        (Role::PosEmbedding, r"(?:^|\.)(?:wpe|position_embeddings|embed_positions)$"),
        (Role::LmHead, r"(?:^|\.)(?:lm_head|embed_out)$|^output$"),
        (Role::Conv, r"(?:^|\.)(?:patch_embed\.proj|patch_embeddings\.projection)$"),
    ];
    table.into_iter().map(|(role, re)| (role, Regex::new(re).expect("valid regex"))).collect()
});

#[cfg(test)]
mod tests {
    use super::*;

    fn id(name: &str) -> (&'static str, Option<u32>) {
        let t = TensorIdentity::from_name(name, 2);
        (t.role.name(), t.layer)
    }

    #[test]
    fn llama_mistral_qwen() {
        assert_eq!(id("model.embed_tokens.weight"), ("embedding", None));
        assert_eq!(id("model.layers.0.self_attn.q_proj.weight"), ("attn_q", Some(0)));
        assert_eq!(id("model.layers.11.self_attn.k_proj.weight"), ("attn_k", Some(11)));
        assert_eq!(id("model.layers.3.self_attn.v_proj.weight"), ("attn_v", Some(3)));
        assert_eq!(id("model.layers.3.self_attn.o_proj.weight"), ("attn_o", Some(3)));
        assert_eq!(id("model.layers.31.mlp.gate_proj.weight"), ("mlp_gate", Some(31)));
        assert_eq!(id("model.layers.31.mlp.up_proj.weight"), ("mlp_up", Some(31)));
        assert_eq!(id("model.layers.31.mlp.down_proj.weight"), ("mlp_down", Some(31)));
        assert_eq!(id("lm_head.weight"), ("lm_head", None));
        // Mixtral experts and router
        assert_eq!(id("model.layers.2.block_sparse_moe.experts.7.w1.weight"), ("mlp_gate", Some(2)));
        assert_eq!(id("model.layers.2.block_sparse_moe.experts.7.w2.weight"), ("mlp_down", Some(2)));
        assert_eq!(id("model.layers.2.block_sparse_moe.experts.7.w3.weight"), ("mlp_up", Some(2)));
        assert_eq!(id("model.layers.2.block_sparse_moe.gate.weight"), ("other", Some(2)));
        // Meta's original Llama layout
        assert_eq!(id("layers.4.attention.wq.weight"), ("attn_q", Some(4)));
        assert_eq!(id("layers.4.feed_forward.w2.weight"), ("mlp_down", Some(4)));
        assert_eq!(id("tok_embeddings.weight"), ("embedding", None));
        assert_eq!(id("output.weight"), ("lm_head", None));
    }

    #[test]
    fn keras() {
        assert_eq!(id("mha/query/kernel"), ("attn_q", None));
        assert_eq!(id("mha/attention_output/kernel"), ("attn_o", None));
        assert_eq!(id("mha/value/kernel:0"), ("attn_v", None));
        assert_eq!(id("transformer_layer_3/self_attention/key/kernel"), ("attn_k", Some(3)));
        assert_eq!(id("transformer_layer_3/feedforward_output_dense/kernel"), ("mlp_down", Some(3)));
        assert_eq!(id("token_embedding/embeddings"), ("embedding", None));
        assert_eq!(id("position_embedding/embeddings"), ("pos_embedding", None));
        assert_eq!(id("head/kernel"), ("other", None));
        assert_eq!(id("input_layer/dense_3/kernel"), ("other", None));
    }

    #[test]
    fn gpt2() {
        assert_eq!(id("wte.weight"), ("embedding", None));
        assert_eq!(id("transformer.wpe.weight"), ("pos_embedding", None));
        assert_eq!(id("h.0.attn.c_attn.weight"), ("attn_qkv", Some(0)));
        assert_eq!(id("transformer.h.10.attn.c_proj.weight"), ("attn_o", Some(10)));
        assert_eq!(id("h.5.mlp.c_fc.weight"), ("mlp_up", Some(5)));
        assert_eq!(id("h.5.mlp.c_proj.weight"), ("mlp_down", Some(5)));
    }

    #[test]
    fn bert_roberta_vit() {
        assert_eq!(id("embeddings.word_embeddings.weight"), ("embedding", None));
        assert_eq!(id("bert.embeddings.position_embeddings.weight"), ("pos_embedding", None));
        assert_eq!(id("embeddings.token_type_embeddings.weight"), ("other", None));
        assert_eq!(id("encoder.layer.0.attention.self.query.weight"), ("attn_q", Some(0)));
        assert_eq!(id("roberta.encoder.layer.2.attention.self.key.weight"), ("attn_k", Some(2)));
        assert_eq!(id("encoder.layer.2.attention.self.value.weight"), ("attn_v", Some(2)));
        assert_eq!(id("encoder.layer.5.attention.output.dense.weight"), ("attn_o", Some(5)));
        assert_eq!(id("encoder.layer.5.intermediate.dense.weight"), ("mlp_up", Some(5)));
        assert_eq!(id("encoder.layer.5.output.dense.weight"), ("mlp_down", Some(5)));
        assert_eq!(id("pooler.dense.weight"), ("other", None));
        assert_eq!(id("vit.encoder.layer.1.attention.attention.query.weight"), ("attn_q", Some(1)));
        assert_eq!(TensorIdentity::from_name("vit.embeddings.patch_embeddings.projection.weight", 4).role, Role::Conv);
        // timm
        assert_eq!(id("blocks.3.attn.qkv.weight"), ("attn_qkv", Some(3)));
        assert_eq!(id("blocks.3.attn.proj.weight"), ("attn_o", Some(3)));
        assert_eq!(id("blocks.3.mlp.fc1.weight"), ("mlp_up", Some(3)));
        assert_eq!(id("blocks.3.mlp.fc2.weight"), ("mlp_down", Some(3)));
        assert_eq!(id("head.weight"), ("other", None));
    }

    #[test]
    fn gguf_llama_cpp() {
        assert_eq!(id("token_embd.weight"), ("embedding", None));
        assert_eq!(id("blk.0.attn_q.weight"), ("attn_q", Some(0)));
        assert_eq!(id("blk.1.attn_k.weight"), ("attn_k", Some(1)));
        assert_eq!(id("blk.2.attn_v.weight"), ("attn_v", Some(2)));
        assert_eq!(id("blk.3.attn_output.weight"), ("attn_o", Some(3)));
        assert_eq!(id("blk.3.attn_qkv.weight"), ("attn_qkv", Some(3)));
        assert_eq!(id("blk.29.ffn_gate.weight"), ("mlp_gate", Some(29)));
        assert_eq!(id("blk.29.ffn_up.weight"), ("mlp_up", Some(29)));
        assert_eq!(id("blk.29.ffn_down.weight"), ("mlp_down", Some(29)));
        assert_eq!(id("blk.4.ffn_down_exps.weight"), ("mlp_down", Some(4)));
        assert_eq!(id("output.weight"), ("lm_head", None));
        assert_eq!(id("blk.0.attn_norm.weight"), ("other", Some(0)));
    }

    #[test]
    fn t5() {
        assert_eq!(id("shared.weight"), ("embedding", None));
        assert_eq!(id("encoder.block.0.layer.0.SelfAttention.q.weight"), ("attn_q", Some(0)));
        assert_eq!(id("decoder.block.4.layer.1.EncDecAttention.o.weight"), ("attn_o", Some(4)));
        assert_eq!(id("encoder.block.1.layer.1.DenseReluDense.wi.weight"), ("mlp_up", Some(1)));
        assert_eq!(id("encoder.block.1.layer.1.DenseReluDense.wi_0.weight"), ("mlp_gate", Some(1)));
        assert_eq!(id("encoder.block.1.layer.1.DenseReluDense.wo.weight"), ("mlp_down", Some(1)));
        assert_eq!(id("encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight"), ("other", Some(0)));
    }

    #[test]
    fn unknown_and_conv() {
        assert_eq!(id("foo.bar"), ("other", None));
        assert_eq!(id("features.3.conv.0.0.weight"), ("other", None));
        assert_eq!(TensorIdentity::from_name("features.3.conv.0.0.weight", 4).role, Role::Conv);
        // a 'q' outside attention is not a query
        assert_eq!(id("model.q.weight"), ("other", None));
        // nn.MultiheadAttention
        assert_eq!(id("encoder.layers.1.self_attn.in_proj_weight"), ("attn_qkv", Some(1)));
        assert_eq!(id("encoder.layers.1.self_attn.out_proj.weight"), ("attn_o", Some(1)));
    }

    #[test]
    fn natural_order() {
        let mut v = ["features.10.conv", "features.2.conv", "features.1.conv", "features.1", "a007", "a7", "b"];
        v.sort_by(|a, b| natural_cmp(a, b));
        assert_eq!(v, ["a007", "a7", "b", "features.1", "features.1.conv", "features.2.conv", "features.10.conv"]);
    }

    #[test]
    fn order() {
        let names = [
            "lm_head.weight",
            "model.layers.1.mlp.down_proj.weight",
            "model.layers.0.self_attn.o_proj.weight",
            "model.layers.0.self_attn.q_proj.weight",
            "model.embed_tokens.weight",
            "pooler.dense.weight",
        ];
        let mut v: Vec<(TensorIdentity, &str)> = names.iter().map(|n| (TensorIdentity::from_name(n, 2), *n)).collect();
        v.sort_by(|a, b| TensorIdentity::display_order((&a.0, a.1), (&b.0, b.1)));
        let sorted: Vec<&str> = v.iter().map(|x| x.1).collect();
        assert_eq!(
            sorted,
            [
                "model.embed_tokens.weight",
                "model.layers.0.self_attn.q_proj.weight",
                "model.layers.0.self_attn.o_proj.weight",
                "model.layers.1.mlp.down_proj.weight",
                "pooler.dense.weight",
                "lm_head.weight"
            ]
        );
    }
}
