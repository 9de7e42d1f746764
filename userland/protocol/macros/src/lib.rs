//! The `protocol!` macro behind `nimbus-protocol`. Use it through `nimbus_protocol::protocol!`;
//! the generated code names `::nimbus_protocol` and is documented there.
//!
//! Handles are recognised by syntax, because they travel in the IPC buffer's handle slots rather
//! than in the body: a type whose last path segment is `Handle` is a handle, and handles may be
//! nested in `Option`, `Result`, tuples and arrays. Everything else is encoded with serde.

use proc_macro2::{Span, TokenStream, TokenTree};
use quote::{format_ident, quote};
use syn::parse::{Parse, ParseStream};
use syn::punctuated::Punctuated;
use syn::visit_mut::VisitMut;
use syn::{
    Attribute, GenericArgument, Ident, Lifetime, LitInt, PathArguments, Token, Type, Visibility,
    braced, parenthesized,
};

/// Handles one message can carry (`nimbus_abi::ipc::MAX_HANDLES`).
const MAX_HANDLES: usize = 4;
/// Methods one protocol can have: the method index is the label's low byte.
const MAX_METHODS: usize = 256;
/// Argument names the generated signatures use themselves.
const RESERVED_ARGS: &[&str] = &["buf", "cx"];
/// Method names the generated client uses itself.
const RESERVED_METHODS: &[&str] = &["new", "endpoint", "transport"];

/// Declares one or more IPC protocols; see the `nimbus-protocol` crate documentation.
#[proc_macro]
pub fn protocol(input: proc_macro::TokenStream) -> proc_macro::TokenStream {
    match syn::parse2::<Protocols>(input.into()).and_then(|p| expand(&p)) {
        Ok(tokens) => tokens.into(),
        Err(e) => e.to_compile_error().into(),
    }
}

struct Protocols(Vec<ProtocolDecl>);

struct ProtocolDecl {
    attrs: Vec<Attribute>,
    vis: Visibility,
    name: Ident,
    id: u16,
    version: u8,
    methods: Vec<Method>,
}

struct Method {
    attrs: Vec<Attribute>,
    name: Ident,
    args: Vec<(Ident, Type)>,
    /// `None` for `-> ()` or no arrow.
    ret: Option<Type>,
}

impl Parse for Protocols {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let mut all = Vec::new();
        while !input.is_empty() {
            all.push(input.parse()?);
        }
        Ok(Self(all))
    }
}

fn keyword(input: ParseStream<'_>, word: &str) -> syn::Result<()> {
    let ident: Ident = input.parse()?;
    if ident != word {
        return Err(syn::Error::new(ident.span(), format!("expected `{word}`")));
    }
    Ok(())
}

impl Parse for ProtocolDecl {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let attrs = input.call(Attribute::parse_outer)?;
        let vis: Visibility = input.parse()?;
        keyword(input, "protocol")?;
        let name: Ident = input.parse()?;
        input.parse::<Token![:]>()?;
        keyword(input, "id")?;
        input.parse::<Token![=]>()?;
        let id_lit: LitInt = input.parse()?;
        let id: u16 = id_lit.base10_parse()?;
        if id == 0 || id == u16::MAX {
            // 0 would let a request look like a success reply; 0xffff is the kernel's notices.
            return Err(syn::Error::new(
                id_lit.span(),
                "protocol id must be in 0x0001..=0xfffe",
            ));
        }
        input.parse::<Token![,]>()?;
        keyword(input, "version")?;
        input.parse::<Token![=]>()?;
        let version: u8 = input.parse::<LitInt>()?.base10_parse()?;
        if input.peek(Token![,]) {
            input.parse::<Token![,]>()?;
        }
        let body;
        braced!(body in input);
        let mut methods: Vec<Method> = Vec::new();
        while !body.is_empty() {
            let method: Method = body.parse()?;
            if methods.iter().any(|m| m.name == method.name) {
                return Err(syn::Error::new(method.name.span(), "duplicate method"));
            }
            methods.push(method);
        }
        if methods.len() > MAX_METHODS {
            return Err(syn::Error::new(
                name.span(),
                "a protocol has at most 256 methods",
            ));
        }
        Ok(Self {
            attrs,
            vis,
            name,
            id,
            version,
            methods,
        })
    }
}

impl Parse for Method {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let attrs = input.call(Attribute::parse_outer)?;
        input.parse::<Token![fn]>()?;
        let name: Ident = input.parse()?;
        if RESERVED_METHODS.iter().any(|r| name == r) {
            return Err(syn::Error::new(
                name.span(),
                format!("`{name}` is used by the generated client"),
            ));
        }
        let list;
        parenthesized!(list in input);
        let parsed = Punctuated::<Arg, Token![,]>::parse_terminated(&list)?;
        let mut args: Vec<(Ident, Type)> = Vec::new();
        for Arg(arg, ty) in parsed {
            let text = arg.to_string();
            if RESERVED_ARGS.contains(&text.as_str()) || text.starts_with("__") {
                return Err(syn::Error::new(
                    arg.span(),
                    format!("argument name `{text}` is reserved"),
                ));
            }
            if args.iter().any(|(a, _)| *a == arg) {
                return Err(syn::Error::new(arg.span(), "duplicate argument"));
            }
            args.push((arg, ty));
        }
        let ret = if input.peek(Token![->]) {
            input.parse::<Token![->]>()?;
            let ty: Type = input.parse()?;
            if is_unit(&ty) { None } else { Some(ty) }
        } else {
            None
        };
        input.parse::<Token![;]>()?;
        Ok(Self {
            attrs,
            name,
            args,
            ret,
        })
    }
}

struct Arg(Ident, Type);

impl Parse for Arg {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let name: Ident = input.parse()?;
        input.parse::<Token![:]>()?;
        Ok(Self(name, input.parse()?))
    }
}

fn is_unit(ty: &Type) -> bool {
    match ty {
        Type::Tuple(t) => t.elems.is_empty(),
        Type::Paren(p) => is_unit(&p.elem),
        Type::Group(g) => is_unit(&g.elem),
        _ => false,
    }
}

/// Where a value's handles are: everything that is not `Plain` is walked by generated code.
enum Shape {
    /// No handles: serde/postcard encodes it.
    Plain(Type),
    Handle,
    Option(Box<Shape>),
    Result(Box<Shape>, Box<Shape>),
    Tuple(Vec<Shape>),
    Array(Box<Shape>, usize),
}

impl Shape {
    fn is_plain(&self) -> bool {
        matches!(self, Shape::Plain(_))
    }

    /// The most handles a value of this shape carries.
    fn max_handles(&self) -> usize {
        match self {
            Shape::Plain(_) => 0,
            Shape::Handle => 1,
            Shape::Option(inner) => inner.max_handles(),
            Shape::Result(ok, err) => ok.max_handles().max(err.max_handles()),
            Shape::Tuple(items) => items.iter().map(Shape::max_handles).sum(),
            Shape::Array(inner, n) => inner.max_handles().saturating_mul(*n),
        }
    }
}

fn mentions_handle(tokens: TokenStream) -> bool {
    tokens.into_iter().any(|t| match t {
        TokenTree::Ident(i) => i == "Handle",
        TokenTree::Group(g) => mentions_handle(g.stream()),
        _ => false,
    })
}

fn type_args(args: &PathArguments) -> Vec<&Type> {
    match args {
        PathArguments::AngleBracketed(a) => a
            .args
            .iter()
            .filter_map(|g| match g {
                GenericArgument::Type(t) => Some(t),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    }
}

fn unsupported(ty: &Type) -> syn::Error {
    syn::Error::new_spanned(
        ty,
        "a `Handle` may only appear by value, directly or inside `Option`, `Result`, tuples and arrays",
    )
}

fn classify(ty: &Type) -> syn::Result<Shape> {
    let plain = || Ok(Shape::Plain(ty.clone()));
    match ty {
        Type::Paren(p) => classify(&p.elem),
        Type::Group(g) => classify(&g.elem),
        Type::Path(p) if p.qself.is_none() => {
            let Some(last) = p.path.segments.last() else {
                return plain();
            };
            let args = type_args(&last.arguments);
            if last.ident == "Handle" && last.arguments.is_empty() {
                return Ok(Shape::Handle);
            }
            if last.ident == "Option" && args.len() == 1 {
                let inner = classify(args[0])?;
                return if inner.is_plain() {
                    plain()
                } else {
                    Ok(Shape::Option(Box::new(inner)))
                };
            }
            if last.ident == "Result" && args.len() == 2 {
                let ok = classify(args[0])?;
                let err = classify(args[1])?;
                return if ok.is_plain() && err.is_plain() {
                    plain()
                } else {
                    Ok(Shape::Result(Box::new(ok), Box::new(err)))
                };
            }
            if mentions_handle(quote!(#ty)) {
                Err(unsupported(ty))
            } else {
                plain()
            }
        }
        Type::Tuple(t) => {
            let items = t
                .elems
                .iter()
                .map(classify)
                .collect::<syn::Result<Vec<_>>>()?;
            if items.iter().all(Shape::is_plain) {
                plain()
            } else {
                Ok(Shape::Tuple(items))
            }
        }
        Type::Array(a) => {
            let inner = classify(&a.elem)?;
            if inner.is_plain() {
                return plain();
            }
            let len = match &a.len {
                syn::Expr::Lit(syn::ExprLit {
                    lit: syn::Lit::Int(n),
                    ..
                }) => n.base10_parse::<usize>()?,
                other => {
                    return Err(syn::Error::new_spanned(
                        other,
                        "an array of handles needs a literal length",
                    ));
                }
            };
            Ok(Shape::Array(Box::new(inner), len))
        }
        _ => {
            if mentions_handle(quote!(#ty)) {
                Err(unsupported(ty))
            } else {
                plain()
            }
        }
    }
}

/// Names for values bound while walking a shape.
struct Names(usize);

impl Names {
    fn next(&mut self) -> Ident {
        self.0 += 1;
        format_ident!("__v{}", self.0)
    }
}

/// Statements putting the value `expr` (an expression of type `&T`) into `__enc`.
fn encode(shape: &Shape, expr: &TokenStream, names: &mut Names) -> TokenStream {
    match shape {
        Shape::Plain(_) => quote! { __enc.put(#expr); },
        Shape::Handle => quote! { __enc.put_handle(*(#expr)); },
        Shape::Option(inner) => {
            let v = names.next();
            let body = encode(inner, &quote!(#v), names);
            quote! {
                match #expr {
                    ::core::option::Option::Some(#v) => { __enc.put(&true); #body }
                    ::core::option::Option::None => __enc.put(&false),
                }
            }
        }
        Shape::Result(ok, err) => {
            let (a, b) = (names.next(), names.next());
            let ok = encode(ok, &quote!(#a), names);
            let err = encode(err, &quote!(#b), names);
            quote! {
                match #expr {
                    ::core::result::Result::Ok(#a) => { __enc.put(&0u32); #ok }
                    ::core::result::Result::Err(#b) => { __enc.put(&1u32); #err }
                }
            }
        }
        Shape::Tuple(items) => {
            let vs: Vec<Ident> = items.iter().map(|_| names.next()).collect();
            let bodies = items
                .iter()
                .zip(&vs)
                .map(|(s, v)| encode(s, &quote!(#v), names));
            quote! { { let (#(#vs,)*) = #expr; #(#bodies)* } }
        }
        Shape::Array(inner, _) => {
            let v = names.next();
            let body = encode(inner, &quote!(#v), names);
            quote! { for #v in (#expr).iter() { #body } }
        }
    }
}

/// `expr?` inside the labelled block `'__decode`, which yields a `Result`.
fn attempt(expr: TokenStream) -> TokenStream {
    quote! {
        match #expr {
            ::core::result::Result::Ok(__v) => __v,
            ::core::result::Result::Err(__e) => break '__decode ::core::result::Result::Err(__e),
        }
    }
}

/// An expression taking a value of this shape out of `__dec`.
fn decode(shape: &Shape) -> TokenStream {
    match shape {
        Shape::Plain(ty) => attempt(quote!(__dec.get::<#ty>())),
        Shape::Handle => attempt(quote!(__dec.take_handle())),
        Shape::Option(inner) => {
            let tag = attempt(quote!(__dec.get::<bool>()));
            let inner = decode(inner);
            quote! {
                if #tag { ::core::option::Option::Some(#inner) } else { ::core::option::Option::None }
            }
        }
        Shape::Result(ok, err) => {
            let tag = attempt(quote!(__dec.result_tag()));
            let (ok, err) = (decode(ok), decode(err));
            quote! {
                if #tag { ::core::result::Result::Ok(#ok) } else { ::core::result::Result::Err(#err) }
            }
        }
        Shape::Tuple(items) => {
            let items = items.iter().map(decode);
            quote! { (#(#items,)*) }
        }
        Shape::Array(inner, n) => {
            // Array elements are evaluated left to right, as they were encoded.
            let items = (0..*n).map(|_| decode(inner));
            quote! { [#(#items),*] }
        }
    }
}

/// Gives every elided lifetime in a client's return type the reply buffer's lifetime.
struct BufferLifetime {
    lifetime: Lifetime,
    used: bool,
}

impl VisitMut for BufferLifetime {
    fn visit_type_reference_mut(&mut self, r: &mut syn::TypeReference) {
        if r.lifetime.is_none() {
            r.lifetime = Some(self.lifetime.clone());
            self.used = true;
        }
        syn::visit_mut::visit_type_reference_mut(self, r);
    }

    fn visit_lifetime_mut(&mut self, l: &mut Lifetime) {
        if l.ident == "_" {
            *l = self.lifetime.clone();
            self.used = true;
        }
    }
}

fn check_handles(count: usize, span: Span, what: &str) -> syn::Result<()> {
    if count > MAX_HANDLES {
        return Err(syn::Error::new(
            span,
            format!("{what} can carry up to {count} handles; a message holds {MAX_HANDLES}"),
        ));
    }
    Ok(())
}

fn expand(protocols: &Protocols) -> syn::Result<TokenStream> {
    let mut out = TokenStream::new();
    for p in &protocols.0 {
        out.extend(expand_one(p)?);
    }
    Ok(out)
}

fn expand_one(p: &ProtocolDecl) -> syn::Result<TokenStream> {
    let krate = quote!(::nimbus_protocol);
    let ProtocolDecl {
        attrs,
        vis,
        name,
        id,
        version,
        methods,
    } = p;
    let client = format_ident!("{}Client", name);
    let server = format_ident!("{}Server", name);
    let name_str = name.to_string();
    let method_names = methods.iter().map(|m| m.name.to_string());

    let mut client_methods = Vec::new();
    let mut server_methods = Vec::new();
    let mut arms = Vec::new();
    for (index, m) in methods.iter().enumerate() {
        let index =
            u8::try_from(index).map_err(|_| syn::Error::new(m.name.span(), "too many methods"))?;
        let label = (u32::from(*id) << 16) | (u32::from(*version) << 8) | u32::from(index);
        let Method {
            attrs: mattrs,
            name: mname,
            args,
            ret,
        } = m;
        let arg_names: Vec<&Ident> = args.iter().map(|(a, _)| a).collect();
        let arg_types: Vec<&Type> = args.iter().map(|(_, t)| t).collect();
        let arg_shapes = arg_types
            .iter()
            .map(|t| classify(t))
            .collect::<syn::Result<Vec<_>>>()?;
        let ret_ty: Type = ret.clone().unwrap_or_else(|| syn::parse_quote!(()));
        let ret_shape = classify(&ret_ty)?;
        check_handles(
            arg_shapes.iter().map(Shape::max_handles).sum(),
            mname.span(),
            "the arguments",
        )?;
        check_handles(ret_shape.max_handles(), mname.span(), "the result")?;

        let mut names = Names(0);
        let encode_args: Vec<TokenStream> = arg_shapes
            .iter()
            .zip(&arg_names)
            .map(|(s, a)| encode(s, &quote!(&#a), &mut names))
            .collect();
        let decode_args: Vec<TokenStream> = arg_shapes.iter().map(decode).collect();
        let encode_ret = encode(&ret_shape, &quote!(&__ret), &mut names);
        let decode_ret = decode(&ret_shape);

        // Client method.
        let mut client_ret = ret_ty.clone();
        let mut rewrite = BufferLifetime {
            lifetime: Lifetime::new("'buf", Span::call_site()),
            used: false,
        };
        rewrite.visit_type_mut(&mut client_ret);
        let (generics, buf_lt) = if rewrite.used {
            (quote!(<'buf>), quote!('buf))
        } else {
            (quote!(), quote!())
        };
        client_methods.push(quote! {
            #(#mattrs)*
            #[allow(clippy::too_many_arguments)]
            pub fn #mname #generics (
                &self,
                buf: &#buf_lt mut #krate::IpcBuffer,
                #(#arg_names: #arg_types),*
            ) -> ::core::result::Result<#client_ret, #krate::ProtocolError> {
                let __info = #krate::__private::call(&self.transport, self.endpoint, &mut *buf, #label, |__enc| {
                    #(#encode_args)*
                })?;
                let __buf: &#buf_lt #krate::IpcBuffer = buf;
                let mut __dec = #krate::__private::reply_decoder(&self.transport, __info, __buf)?;
                let __decoded = '__decode: { ::core::result::Result::Ok(#decode_ret) };
                #krate::__private::finish_reply(&self.transport, &mut __dec, __decoded)
            }
        });

        // Server trait method.
        let trait_ret = ret.as_ref().map(|t| quote!(-> #t));
        server_methods.push(quote! {
            #(#mattrs)*
            #[allow(clippy::too_many_arguments)]
            fn #mname(&mut self, cx: &#krate::CallContext, #(#arg_names: #arg_types),*) #trait_ret;
        });

        // Dispatch arm.
        let finish = attempt(quote!(__dec.finish()));
        let open = attempt(quote!(#krate::Decoder::new(__msg.info, &*__msg.buffer)));
        let call_and_reply = if ret.is_some() {
            quote! {
                let __ret = __server.#mname(&__cx, #(#arg_names),*);
                #krate::__private::reply(__msg, |__enc| { #encode_ret })
            }
        } else {
            quote! {
                __server.#mname(&__cx, #(#arg_names),*);
                #krate::__private::reply(__msg, |_| {})
            }
        };
        arms.push(quote! {
            #index => {
                let __decoded = '__decode: {
                    let mut __dec = #open;
                    #(let #arg_names: #arg_types = #decode_args;)*
                    #finish;
                    ::core::result::Result::Ok((#(#arg_names,)*))
                };
                match __decoded {
                    ::core::result::Result::Err(__e) => ::core::result::Result::Err(#krate::__private::reject(__msg, __e)),
                    ::core::result::Result::Ok((#(#arg_names,)*)) => { #call_and_reply }
                }
            }
        });
    }

    let client_doc = format!(
        "Client of [`{name_str}`]: one method per call, each taking the calling thread's IPC buffer."
    );
    let server_doc = format!(
        "What a [`{name_str}`] server implements; [`{name_str}::dispatch`] decodes requests and calls it."
    );
    let dispatch_doc = format!(
        "Decodes a [`{name_str}`] request in `msg`, calls `server`, and leaves the reply in `msg` (an error \
         reply when the request is rejected). The `Err` says why and which received handles nobody owns."
    );
    Ok(quote! {
        #(#attrs)*
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        #vis struct #name;

        impl #krate::Protocol for #name {
            const NAME: &'static str = #name_str;
            const ID: u16 = #id;
            const VERSION: u8 = #version;
            const METHODS: &'static [&'static str] = &[#(#method_names),*];
        }

        impl #name {
            /// The protocol id (label bits 31..16).
            pub const ID: u16 = #id;
            /// The protocol version (label bits 15..8).
            pub const VERSION: u8 = #version;

            #[doc = #dispatch_doc]
            pub fn dispatch<S: #server + ?Sized>(
                server: &mut S,
                msg: &mut #krate::RawMessage<'_>,
            ) -> ::core::result::Result<(), #krate::Rejected> {
                let __server = server;
                let __msg = msg;
                let __method = #krate::__private::check_request(__msg, #id, #version)?;
                let __cx = #krate::CallContext::new(__msg.badge);
                match __method {
                    #(#arms)*
                    _ => {
                        let __label = __msg.info.label();
                        ::core::result::Result::Err(#krate::__private::reject(
                            __msg,
                            #krate::ProtocolError::UnknownMethod { label: __label },
                        ))
                    }
                }
            }
        }

        #[doc = #client_doc]
        #[derive(Debug, Clone, Copy)]
        #vis struct #client<T> {
            transport: T,
            endpoint: #krate::Handle,
        }

        impl<T: #krate::Transport> #client<T> {
            /// A client calling the server on `endpoint` through `transport`.
            pub const fn new(transport: T, endpoint: #krate::Handle) -> Self {
                Self { transport, endpoint }
            }

            /// The server's endpoint.
            pub fn endpoint(&self) -> #krate::Handle {
                self.endpoint
            }

            /// The transport calls go through.
            pub fn transport(&self) -> &T {
                &self.transport
            }

            #(#client_methods)*
        }

        #[doc = #server_doc]
        #vis trait #server {
            #(#server_methods)*
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn expand_str(src: &str) -> syn::Result<TokenStream> {
        expand(&syn::parse_str::<Protocols>(src)?)
    }

    fn error(src: &str) -> String {
        match expand_str(src) {
            Ok(_) => panic!("expected an error for {src}"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn accepts_the_documented_example() {
        let src = "/// Doc.\npub protocol Console: id = 0x0001, version = 1 {
            /// Log.
            fn log(level: u8, text: &str) -> ();
            fn register_command(name: &str, help: &str, endpoint: Handle) -> Result<(), CommandError>;
            fn uptime() -> u64;
            fn pair() -> Result<(Handle, Option<Handle>), E>;
            fn many(a: [Handle; 2], b: Option<Handle>, c: Handle) -> [Handle; 4];
        }";
        let out = expand_str(src).unwrap().to_string();
        assert!(out.contains("ConsoleClient") && out.contains("ConsoleServer"));
    }

    #[test]
    fn rejects_bad_declarations() {
        assert!(error("protocol P: id = 0, version = 1 {}").contains("0x0001"));
        assert!(error("protocol P: id = 65535, version = 1 {}").contains("0x0001"));
        assert!(error("protocol P: id = 1, version = 256 {}").contains("too large"));
        assert!(
            error("protocol P: id = 1, version = 1 { fn a(); fn a(); }")
                .contains("duplicate method")
        );
        assert!(
            error("protocol P: id = 1, version = 1 { fn a(x: u8, x: u8); }")
                .contains("duplicate argument")
        );
        assert!(error("protocol P: id = 1, version = 1 { fn a(buf: u8); }").contains("reserved"));
        assert!(
            error("protocol P: id = 1, version = 1 { fn new(); }").contains("generated client")
        );
        assert!(
            error("protocol P: id = 1, version = 1 { fn a(h: &Handle); }").contains("by value")
        );
        assert!(
            error("protocol P: id = 1, version = 1 { fn a(h: Vec<Handle>); }").contains("by value")
        );
        let five = "protocol P: id = 1, version = 1 { fn a(x: [Handle; 3], y: (Handle, Handle)); }";
        assert!(error(five).contains("up to 5 handles"));
        let ret = "protocol P: id = 1, version = 1 { fn a() -> Result<[Handle; 5], u8>; }";
        assert!(error(ret).contains("result"));
        assert!(error("protocl P: id = 1, version = 1 {}").contains("expected `protocol`"));
    }

    #[test]
    fn counts_handles_by_shape() {
        let t = |s: &str| {
            classify(&syn::parse_str::<Type>(s).unwrap())
                .unwrap()
                .max_handles()
        };
        assert_eq!(t("u64"), 0);
        assert_eq!(t("Option<&str>"), 0);
        assert_eq!(t("nimbus_protocol::Handle"), 1);
        assert_eq!(t("Result<Handle, (Handle, Handle)>"), 2);
        assert_eq!(t("[Option<Handle>; 3]"), 3);
        assert_eq!(t("(Handle, [u8; 4], Handle)"), 2);
    }
}
