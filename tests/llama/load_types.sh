#!/bin/sh
# llama.cpp loads and runs moetier-generated models of each type (f16, q8_0,
# q4_0) with mmap and without, weight repacking on and off; records in the
# log which buffer type each configuration put the expert tensors in.
# Checks: every run generates N tokens; without repacking experts stay in the
# file mapping (CPU_Mapped) or the plain read-in buffer (CPU); the load mode
# never changes the tokens.
. "$(dirname "$0")/../lib.sh"
need_driver
need_mkmoe
need_text

N=12
for type in f16 q8_0 q4_0; do
    model=$TMP/moe-$type.gguf
    mkmodel "$model" "$type"
    note "model $type: $(wc -c < "$model") bytes"
    for repack in repack no-repack; do
        ref=
        for load in mmap no-mmap; do
            pfx=$TMP/$type-$load-$repack
            drive "$pfx" -m "$model" -n $N --"$load" --"$repack" --buffers \
                --feed "$TEXT" --feed-max 32
            toks=$(field "$pfx.out" tokens)
            set -- $toks
            [ $# -eq $N ] || fail "$type --$load --$repack: $# tokens generated, wanted $N"
            bufs=$(field "$pfx.out" expert_buffers)
            [ -n "$bufs" ] || fail "$type --$load --$repack: no expert_buffers line"
            mode=$(field "$pfx.err" load_mode)
            case $repack in repack) r=on ;; *) r=off ;; esac
            note "type=$type load=$load ($mode) repack=$r: expert_buffers: $bufs" \
                 "gen_tok_per_s=$(field "$pfx.err" gen_tok_per_s)"
            grep '^model_buffer:' "$pfx.out" | sed "s/^/$test_name:   /"

            # every expert tensor reported, all of the model's type
            nexp=$(grep -c '^buffer: blk\.[0-9]*\.ffn_\(gate\|up\|down\)_exps\.weight ' "$pfx.out")
            [ "$nexp" -eq 12 ] || fail "$type --$load --$repack: $nexp expert tensors reported, wanted 12"
            grep '^buffer: ' "$pfx.out" | grep -qv " $type " &&
                fail "$type --$load --$repack: an expert tensor is not $type"

            case $load in
                mmap) plain=CPU_Mapped ;;
                *) plain=CPU ;;
            esac
            if [ $repack = no-repack ]; then
                [ "$bufs" = "$type=$plain" ] ||
                    fail "$type --$load --no-repack: experts in '$bufs', wanted $type=$plain"
            elif [ "$bufs" != "$type=$plain" ]; then
                note "  -> llama.cpp repacks $type experts on this CPU: $bufs"
            else
                note "  -> llama.cpp does not repack $type experts on this CPU"
            fi

            # same weights, same kernels: the load mode must not change the output
            if [ -z "$ref" ]; then
                ref=$toks
            elif [ "$toks" != "$ref" ]; then
                fail "$type --$repack: --mmap and --no-mmap generated different tokens"
            fi
        done
    done
done
note "backend: $(field "$TMP/q4_0-mmap-repack.err" cpu_backend)"
exit 0
