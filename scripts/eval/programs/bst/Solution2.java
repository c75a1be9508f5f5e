import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;

public class Tree<T extends Comparable<T>> {
    class N {
        T val;
        N lo, hi;
        N(T v) { val = v; }
    }

    N top;

    void add(T v) {
        if (top == null) { top = new N(v); return; }
        N cur = top;
        while (true) {
            int c = v.compareTo(cur.val);
            if (c == 0) return;
            if (c < 0) {
                if (cur.lo == null) { cur.lo = new N(v); return; }
                cur = cur.lo;
            } else {
                if (cur.hi == null) { cur.hi = new N(v); return; }
                cur = cur.hi;
            }
        }
    }

    List<T> sorted() {
        List<T> out = new ArrayList<>();
        Deque<N> stack = new ArrayDeque<>();
        N cur = top;
        while (cur != null || !stack.isEmpty()) {
            while (cur != null) { stack.push(cur); cur = cur.lo; }
            cur = stack.pop();
            out.add(cur.val);
            cur = cur.hi;
        }
        return out;
    }

    List<T> levels() {
        List<T> out = new ArrayList<>();
        if (top == null) return out;
        ArrayDeque<N> queue = new ArrayDeque<>();
        queue.add(top);
        while (!queue.isEmpty()) {
            N x = queue.poll();
            out.add(x.val);
            if (x.lo != null) queue.add(x.lo);
            if (x.hi != null) queue.add(x.hi);
        }
        return out;
    }

    public static void main(String[] args) {
        Tree<String> t = new Tree<>();
        for (String s : "mango apple pear kiwi banana cherry fig".split(" ")) t.add(s);
        System.out.println("sorted: " + t.sorted());
        System.out.println("by level: " + t.levels());
    }
}
