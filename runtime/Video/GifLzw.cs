namespace Turbo.Runtime.Video;

/// <summary>
/// The variable-length LZW compression of GIF89a (its appendix F): codes of 3 to 12 bits, packed least significant
/// bit first into data sub-blocks of at most 255 bytes. The code table is cleared and restarted when it is full.
/// </summary>
static class GifLzw
{
    const int MaxCodeBits = 12;
    const int MaxCodes = 1 << MaxCodeBits;

    /// <summary>Writes the image data of one frame: the minimum code size byte, the sub-blocks and the empty terminator block.</summary>
    public static void Write(Stream output, ReadOnlySpan<byte> indices, int minCodeSize)
    {
        output.WriteByte((byte)minCodeSize);
        var bits = new SubBlockBitWriter(output);
        int clear = 1 << minCodeSize, end = clear + 1;
        int codeSize = minCodeSize + 1, next = end + 1;
        var table = new Dictionary<int, int>(); // (prefix code << 8 | next index) → code
        bits.Write(clear, codeSize);
        int prefix = indices[0];
        for (int i = 1; i < indices.Length; i++)
        {
            int key = prefix << 8 | indices[i];
            if (table.TryGetValue(key, out int code))
            {
                prefix = code;
                continue;
            }
            bits.Write(prefix, codeSize);
            if (next < MaxCodes)
            {
                table[key] = next++;
                // The decoder adds each entry one code later than we do, so it widens its codes when `next` has
                // passed, not reached, the current limit.
                if (next > 1 << codeSize && codeSize < MaxCodeBits) codeSize++;
            }
            else
            {
                bits.Write(clear, codeSize);
                table.Clear();
                codeSize = minCodeSize + 1;
                next = end + 1;
            }
            prefix = indices[i];
        }
        bits.Write(prefix, codeSize);
        bits.Write(end, codeSize);
        bits.Flush();
        output.WriteByte(0); // block terminator
    }

    /// <summary>Packs codes LSB first and emits them as length-prefixed sub-blocks of up to 255 bytes.</summary>
    sealed class SubBlockBitWriter(Stream output)
    {
        readonly byte[] _block = new byte[255];
        int _blockLength;
        int _pending, _pendingBits; // bits not yet forming a whole byte

        public void Write(int code, int size)
        {
            _pending |= code << _pendingBits;
            _pendingBits += size;
            while (_pendingBits >= 8)
            {
                Append((byte)_pending);
                _pending >>= 8;
                _pendingBits -= 8;
            }
        }

        public void Flush()
        {
            if (_pendingBits > 0) Append((byte)_pending);
            _pending = _pendingBits = 0;
            EmitBlock();
        }

        void Append(byte value)
        {
            _block[_blockLength++] = value;
            if (_blockLength == _block.Length) EmitBlock();
        }

        void EmitBlock()
        {
            if (_blockLength == 0) return;
            output.WriteByte((byte)_blockLength);
            output.Write(_block, 0, _blockLength);
            _blockLength = 0;
        }
    }
}
